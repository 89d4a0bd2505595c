import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

const CHECK_TIMEOUT_MS = 2000;

const checkState = z.enum(['ok', 'failed', 'skipped']);
type CheckState = z.infer<typeof checkState>;

const readinessSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    checks: z.object({ store: checkState, influx: checkState, mqtt: checkState }),
    /** The checks that failed, with why. */
    failed: z.array(z.object({ check: z.string(), reason: z.string() })),
  })
  .meta({ id: 'Readiness' });

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** GET /healthz (liveness) and GET /readyz (readiness: store, InfluxDB and broker all reachable). */
export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness',
        description: 'Answers 200 while the process serves requests; it checks nothing else.',
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness',
        description:
          'Answers 200 when the store answers, InfluxDB answers and holds the database (made when missing ' +
          'and allowed), and the MQTT connection is up; ' +
          'otherwise 503 listing the checks that failed.',
        response: { 200: readinessSchema, 503: readinessSchema },
      },
    },
    async (_request, reply) => {
      const failed: Array<{ check: string; reason: string }> = [];
      const run = async (check: string, probe: (() => Promise<void>) | undefined): Promise<CheckState> => {
        if (!probe) return 'skipped';
        try {
          await within(CHECK_TIMEOUT_MS, probe());
          return 'ok';
        } catch (err) {
          failed.push({ check, reason: (err as Error).message.slice(0, 600) });
          return 'failed';
        }
      };
      const { store, influx, mqtt } = app;
      const [s, i, m] = await Promise.all([
        run('store', () => store.ping()),
        run(
          'influx',
          influx && (() => (influx.ready ? influx.ready(CHECK_TIMEOUT_MS) : influx.ping(CHECK_TIMEOUT_MS))),
        ),
        run(
          'mqtt',
          mqtt &&
            (async () => {
              if (!mqtt.connected) throw new Error('not connected to the broker');
            }),
        ),
      ]);
      const ok = failed.length === 0;
      return reply
        .code(ok ? 200 : 503)
        .send({ status: ok ? 'ok' : 'unavailable', checks: { store: s, influx: i, mqtt: m }, failed });
    },
  );
};
