/** Where text comes from for `patrol scan`: git history, files, or a diff on a file or stdin. */
export { type FileSource, type ReadAheadOptions, readAhead, walkFiles } from "./files.js";
export { GitError, type GitHistoryOptions, gitHistory, gitLogArgs, HistoryTally } from "./git-history.js";
