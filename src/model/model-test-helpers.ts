/** Helpers for the model tests: parse inline YAML next to a minimal Mesh, read violations as lines. */
import { formatViolation, type Violation } from '../errors.ts';
import { type ModelResult, parseModelFiles } from './load-model.ts';

export const MESH_YAML = `apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
`;

/** Parses `text` as `test.yaml`, with `mesh.yaml` holding a default Mesh unless `withMesh` is false. */
export function parseTestYaml(text: string, options: { withMesh?: boolean } = {}): ModelResult {
  const files = [{ file: 'test.yaml', text }];
  if (options.withMesh !== false) files.push({ file: 'mesh.yaml', text: MESH_YAML });
  return parseModelFiles(files);
}

/** `file: path: message` lines, as `meshplane validate` prints them. */
export function violationLines(result: { violations: readonly Violation[] }): string[] {
  return result.violations.map(formatViolation);
}

/** Only the error lines. */
export function errorLines(result: { violations: readonly Violation[] }): string[] {
  return violationLines({ violations: result.violations.filter((v) => v.severity === 'error') });
}

/** A Service document for references. */
export function serviceYaml(name: string, namespace: string, ports: string): string {
  return `apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}}
spec: {ports: ${ports}}
`;
}
