/** Shared set-up for the whole test run: real services the suites need (filled in as the pipeline grows). */
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
