/** Path of the Envoy binary for e2e tests: the same resolution as `meshplane demo` (fails, never skips). */
export { envoyBinary } from '../../src/cli/local-envoy.ts';
