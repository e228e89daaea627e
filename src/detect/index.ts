/** The token detector: bytes in, findings (fingerprints and locations, never tokens) out. */
export type { Finding, Location } from "./finding.js";
export { DEFAULT_DETECT_OPTIONS, type DetectOptions, type Encoding } from "./scanner.js";
export {
  type InputKind,
  type ScanInput,
  type StreamLimits,
  StreamScanner,
  scanBuffer,
  scanStream,
} from "./stream-scanner.js";
