/**
 * The queue's Redis, named by a URL: `redis://[user:password@]host:port[/db]` (`rediss://` for
 * TLS). A wrong URL is refused at once and an unreachable one within seconds, naming the URL,
 * instead of the endless reconnecting that ioredis (under BullMQ) does by default. Once the
 * first contact worked, connections do reconnect forever (a Redis restart mid-sweep is waited
 * out), which is what BullMQ's own retry strategy does.
 */
import type { RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { FprlError } from '../core/errors.js';

/** The one BullMQ queue every fprl sweep and worker uses; sweeps are told apart by job id. */
export const QUEUE_NAME = 'fprl-runs';

export interface QueueAddress {
  /** The URL as given. */
  url: string;
  /** The URL without its password, for messages and records. */
  label: string;
  /** Connection options (BullMQ creates its ioredis connections from them). */
  connection: RedisOptions;
}

const EXAMPLE = 'e.g. redis://localhost:6379 or redis://queue-host:6379/2';

/** Parse `--queue URL`; throws an FprlError naming the URL when it is not a Redis URL. */
export function parseQueueUrl(url: string, flag = '--queue'): QueueAddress {
  const refuse = (why: string) =>
    new FprlError(`'${url}' is not a Redis URL: ${why}`, { where: flag, hint: EXAMPLE });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw refuse('it does not parse as a URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw refuse(`the scheme is '${u.protocol.replace(/:$/, '')}', not redis or rediss`);
  if (!u.hostname) throw refuse('it names no host');
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw refuse(`the path '/${dbText}' is not a database number`);
  if (u.search || u.hash) throw refuse('it has a query or fragment (give only host, port and database)');
  const db = dbText === '' ? 0 : Number(dbText);
  const masked = new URL(url);
  if (masked.password) masked.password = '***';
  const connection: RedisOptions = {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // Reconnect forever, at most 5 s apart: a restarted Redis is found again within seconds.
    retryStrategy: (times: number) => Math.min(500 * times, 5000),
  };
  return { url, label: masked.toString().replace(/\/$/, ''), connection };
}

/** What the first contact learnt: the server's version and eviction policy. */
export interface RedisFacts {
  version: string;
  /** `maxmemory-policy`; undefined when the server does not say (CONFIG disabled). */
  evictionPolicy?: string;
}

/**
 * Connect once, without retrying, and ask the server who it is: an unreachable host, a port
 * that is not Redis, a refused password or a database out of range is an FprlError naming the
 * URL within `timeoutMs`. Warnings (an eviction policy that can drop jobs) go to `warn`.
 */
export async function probeQueue(
  address: QueueAddress,
  opts: { timeoutMs?: number; warn?: (line: string) => void; flag?: string } = {},
): Promise<RedisFacts> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const client = new Redis({
    ...address.connection,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // reported through the rejected calls below
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    const facts = await Promise.race([
      (async (): Promise<RedisFacts> => {
        await client.connect();
        const info = await client.info('server');
        const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
        let evictionPolicy: string | undefined;
        try {
          const reply = (await client.config('GET', 'maxmemory-policy')) as string[];
          evictionPolicy = reply[1];
        } catch {
          // CONFIG is often disabled on managed Redis: nothing to check then.
        }
        return { version, evictionPolicy };
      })(),
      deadline,
    ]);
    if (facts.evictionPolicy !== undefined && facts.evictionPolicy !== 'noeviction') {
      opts.warn?.(
        `${address.label}: maxmemory-policy is ${facts.evictionPolicy}: Redis may evict queue jobs when ` +
          'memory runs short; set it to noeviction (docs/QUEUE.md)',
      );
    }
    return facts;
  } catch (e) {
    throw new FprlError(`cannot reach the queue's Redis: ${(e as Error).message || String(e)}`, {
      where: `${opts.flag ?? '--queue'} ${address.label}`,
      hint:
        'start Redis there (docs/QUEUE.md: redis-server with appendonly yes and maxmemory-policy ' +
        'noeviction), or check the host, port, password and database number of the URL',
      cause: e,
    });
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
