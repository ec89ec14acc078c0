/** The ACK/NACK bookkeeping of one type on one stream, and the sync state it amounts to. */
import type { NackStatus, SyncState, TypeStatus } from './proxy-status.ts';

/** What both transports record per type: sent, ACKed, NACKed. */
export interface AckState {
  nonceSent?: string;
  versionSent?: string;
  sentAt?: string;
  nonceAcked?: string;
  versionAcked?: string;
  ackedAt?: string;
  lastNack?: NackStatus;
}

/** SYNCED / STALE / NACKED / NOT SENT, as `istioctl proxy-status` reports them. */
export function syncState(st: AckState, queued: boolean): SyncState {
  if (st.nonceSent === undefined) return 'NOT SENT';
  if (st.lastNack?.nonce === st.nonceSent) return 'NACKED';
  return st.nonceAcked === st.nonceSent && !queued ? 'SYNCED' : 'STALE';
}

/** The ACK/NACK fields of a TypeStatus. */
export function ackStatus(st: AckState, queued: boolean): Omit<TypeStatus, 'typeUrl' | 'subscribed' | 'resources'> {
  return {
    state: syncState(st, queued),
    versionSent: st.versionSent,
    nonceSent: st.nonceSent,
    pendingNonce: st.nonceSent !== undefined && st.nonceSent !== st.nonceAcked && st.lastNack?.nonce !== st.nonceSent ? st.nonceSent : undefined,
    versionAcked: st.versionAcked,
    lastNack: st.lastNack && { ...st.lastNack },
    sentAt: st.sentAt,
    ackedAt: st.ackedAt,
  };
}
