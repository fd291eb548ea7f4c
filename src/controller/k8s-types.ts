// The few fields of Kubernetes objects the controller reads or writes, as they are on the wire
// (plain JSON, RFC 3339 strings for times). Deliberately not @kubernetes/client-node's generated
// models: those turn timestamps into Date objects on list but not on watch, and carry every field.

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generateName?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { reason?: string; exitCode?: number };
}

export interface ContainerStatus {
  name: string;
  image: string;
  imageID?: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    nodeName?: string;
    serviceAccountName?: string;
    imagePullSecrets?: Array<{ name?: string }>;
    containers?: Array<{ name: string; image?: string }>;
    initContainers?: Array<{ name: string; image?: string }>;
  };
  status?: {
    phase?: string;
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

/** core/v1 Event, the kind `kubectl describe pod` shows. */
export interface KubeEvent {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  involvedObject: ObjectReference;
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
}

/** coordination.k8s.io/v1 Lease. Times are MicroTime: RFC 3339 with microseconds. */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface ServiceAccount {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  imagePullSecrets?: Array<{ name?: string }>;
}

export interface Node {
  metadata: ObjectMeta;
  status?: { nodeInfo?: { operatingSystem?: string; architecture?: string } };
}

/** The meta/v1 Status an API server sends for errors, and inside a watch ERROR event. */
export interface Status {
  kind: 'Status';
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

export interface ObjectList<T> {
  kind?: string;
  apiVersion?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T | Status;
}

/** RFC 3339 with microseconds, the MicroTime format Leases and events.k8s.io use. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** RFC 3339 with seconds, the Time format of core/v1 Event timestamps. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
