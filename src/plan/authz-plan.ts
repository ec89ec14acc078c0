import type { AuthzAction } from '../model/types.ts';

/**
 * AuthorizationPolicy, decided for one inbound port and free of Envoy types. The shape mirrors
 * Envoy's RBAC (config.rbac.v3) one to one, so the translator maps it field by field and
 * `explain` evaluates exactly what Envoy will evaluate.
 *
 * Everything that can be decided without seeing a connection is decided here: `ports`,
 * `notPorts` and `destination.port` are compared with the port's targetPort (Envoy would see the
 * sidecar's listenPort, not the port policies name), and HTTP-only fields are dropped on TCP
 * ports as Istio drops them. So the IR has no port matchers.
 */
export interface AuthzPlan {
  /** `namespace/name` of every policy that selects the workload, sorted. */
  policies: readonly string[];
  /** One filter per action that has policies, in Envoy order: AUDIT, DENY, ALLOW. */
  filters: readonly RbacFilterPlan[];
  /** What could not be expressed on this port, for logs and `explain`. */
  notes: readonly string[];
}

export interface RbacFilterPlan {
  action: AuthzAction;
  /**
   * The enforced rules, sorted by name. Absent when every policy of this action is a dry run
   * (nothing enforced). Present and empty for ALLOW: deny everything.
   */
  rules?: readonly RbacRule[];
  /** Rules of dry-run policies: evaluated and counted by Envoy, never enforced. */
  shadowRules?: readonly RbacRule[];
}

/** One Istio rule = one Envoy RBAC policy. Matches when one permission AND one principal match. */
export interface RbacRule {
  /** `ns[<ns>]-policy[<name>]-rule[<i>]`, Istio's naming, so a denial traces back to YAML. */
  name: string;
  /** `namespace/name` of the AuthorizationPolicy. */
  policy: string;
  /** Index into the policy's `spec.rules`. */
  rule: number;
  /** ORed; never empty. */
  permissions: readonly Permission[];
  /** ORed; never empty. */
  principals: readonly Principal[];
}

/** What the request or connection is (Envoy's Permission). */
export type Permission =
  | { any: true }
  | { and: readonly Permission[] }
  | { or: readonly Permission[] }
  | { not: Permission }
  | { header: HeaderMatch }
  | { path: StringMatch };

/** Who sends it (Envoy's Principal). */
export type Principal =
  | { any: true }
  | { and: readonly Principal[] }
  | { or: readonly Principal[] }
  | { not: Principal }
  /** The peer certificate's URI SAN (`spiffe://...`); never matches a plaintext connection. */
  | { authenticated: StringMatch }
  /** The address of the TCP peer. */
  | { directRemoteIp: Cidr }
  /** The original client: the last x-forwarded-for entry on HTTP, else the TCP peer. */
  | { remoteIp: Cidr }
  | { header: HeaderMatch };

/** An Envoy StringMatcher. `regex` is RE2, matched against the whole value. */
export type StringMatch =
  | { exact: string; ignoreCase?: boolean }
  | { prefix: string; ignoreCase?: boolean }
  | { suffix: string; ignoreCase?: boolean }
  | { regex: string };

/** An Envoy HeaderMatcher: `present` is any value (Istio's `*`), else a string match. */
export interface HeaderMatch {
  name: string; // lower case; `:method`, `:authority` for pseudo-headers
  match: StringMatch | { present: true };
}

export interface Cidr {
  address: string;
  prefixLen: number;
}
