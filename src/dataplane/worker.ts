// A data-plane worker (a worker thread): its state and work are one WorkerContext (worker/context.ts); this file is
// the message loop between it and the primary. Messages: see model/messages.ts.
import { parentPort, workerData } from 'node:worker_threads';
import type { ToPrimary, ToWorker } from '../model/messages.ts';
import { createLogger } from '../observe/log.ts';
import { WorkerContext, type WorkerStart } from './worker/context.ts';

const port = parentPort;
if (port === null) throw new Error('worker.ts must run in a worker thread');
const init = workerData as WorkerStart;
const log = createLogger(init.logLevel).child({ worker: init.workerId });
const send = (m: ToPrimary): void => port.postMessage(m);
const ctx = new WorkerContext(init, log, send);

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'snapshot':
      ctx.applySnapshot(m.data);
      break;
    case 'snapshotDelta':
      ctx.applyDelta(m.delta);
      break;
    case 'explain':
      send({ type: 'explained', requestId: m.requestId, result: ctx.explain(m.query) });
      break;
    case 'settings':
      ctx.settings(m);
      break;
    case 'listeners':
      ctx.relisten(m.listeners).then(
        (errors) => send({ type: 'relistened', requestId: m.requestId, errors }),
        (err: unknown) => send({ type: 'relistened', requestId: m.requestId, errors: [String(err)] }),
      );
      break;
    case 'stop':
      ctx.stop();
      break;
    case 'kill':
      ctx.kill();
      break;
    case 'metrics':
      send({ type: 'metrics', requestId: m.requestId, metrics: ctx.metrics() });
      break;
    case 'stats':
      send({ type: 'stats', requestId: m.requestId, stats: ctx.stats() });
      break;
    case 'connections':
      send({ type: 'connections', requestId: m.requestId, ...ctx.connections(m.filter, m.limit) });
      break;
    case 'killConnections':
      send({ type: 'killed', requestId: m.requestId, count: ctx.killConnections(m.filter) });
      break;
    case 'crash':
      setImmediate(() => { throw new Error('crash requested by a test'); });
      break;
    case 'hang':
      setImmediate(() => { for (;;) { /* spins until the primary terminates this worker */ } });
      break;
  }
});

process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception in a data-plane worker');
  process.exit(70);
});

ctx.start().catch((err: unknown) => {
  log.fatal({ err }, 'failed to bind listeners');
  process.exit(71);
});
