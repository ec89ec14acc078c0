/**
 * The load generator process (forked by controller.ts): one Fleet, driven over IPC. It exits with
 * its parent: a crashed scenario never leaves thousands of streams open.
 */
import { Fleet } from './fleet.ts';
import type { CommandName, Commands, ReplyMessage, RequestMessage } from './protocol.ts';

const fleet = new Fleet();
const startedAt = Date.now();

type Handlers = { [C in CommandName]: (arg: Commands[C][0]) => Commands[C][1] | Promise<Commands[C][1]> };

const handlers: Handlers = {
  connect: (arg) => fleet.connect(arg),
  reconnect: (arg) => fleet.reconnect(arg.nodeIds, arg.timeoutMs),
  nack: (arg) => ({ armed: fleet.nack(arg.nodeIds, arg.type) }),
  converged: (arg) => fleet.converged(arg),
  received: (arg) => fleet.received(arg.since, arg.nodeIds),
  disconnect: async (arg) => ({ closed: await fleet.disconnect(arg.timeoutMs) }),
  usage: () => {
    const cpu = process.cpuUsage();
    return { cpuSeconds: (cpu.user + cpu.system) / 1e6, wallSeconds: (Date.now() - startedAt) / 1000, rssBytes: process.memoryUsage.rss(), streams: fleet.size };
  },
};

process.on('message', (msg: RequestMessage) => {
  void (async () => {
    let reply: ReplyMessage;
    try {
      const handler = handlers[msg.command] as (arg: unknown) => unknown;
      reply = { id: msg.id, ok: true, result: await handler(msg.arg) };
    } catch (err) {
      reply = { id: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
    process.send!(reply);
  })();
});
process.on('disconnect', () => process.exit(0));
process.send!({ id: 0, ok: true, result: 'ready' } satisfies ReplyMessage);
