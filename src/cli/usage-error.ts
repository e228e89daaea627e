/** A mistake in how the command was called: reported with exit code 2 and the usage line. */
export class UsageError extends Error {
  override name = "UsageError";
}

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream;
}
