import snappy from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { basicAuth, bearerAuth } from '../../src/core/remote-write/auth.ts';
import { RemoteWriteClient, type HttpTransport } from '../../src/core/remote-write/client.ts';
import { decodeWriteRequest } from '../../src/core/remote-write/protobuf.ts';

const NOW = Date.UTC(2026, 0, 1, 12);

interface Call {
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

/** A receiver answering with the given statuses in turn (then 204), recording each request. */
function receiver(statuses: (number | Error)[] = [], headers: Record<string, string> = {}): { transport: HttpTransport; calls: Call[] } {
  const calls: Call[] = [];
  const transport: HttpTransport = async (_url, init) => {
    calls.push({ headers: init.headers, body: init.body });
    const next = statuses.shift() ?? 204;
    if (next instanceof Error) throw next;
    return { status: next, headers: { get: (n: string) => headers[n.toLowerCase()] ?? null }, text: async () => (next >= 300 ? 'nope' : '') };
  };
  return { transport, calls };
}

function client(transport: HttpTransport, extra: Partial<ConstructorParameters<typeof RemoteWriteClient>[0]> = {}) {
  const sleeps: number[] = [];
  const c = new RemoteWriteClient({
    url: 'http://prom.test/api/v1/write',
    transport,
    clock: { now: () => NOW },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...extra,
  });
  return { c, sleeps };
}

const series = (n: number) => Array.from({ length: n }, (_, i) => ({ name: 'argus_test', labels: { i: String(i) }, value: i }));

describe('RemoteWriteClient', () => {
  it('sends snappy-compressed protobuf with the remote-write 1.0 headers', async () => {
    const { transport, calls } = receiver();
    const { c } = client(transport);
    c.enqueue([{ name: 'argus_objective_compliance_ratio', labels: { objective: 'o' }, value: 0.75 }], NOW);
    const result = await c.flush();
    expect(result).toEqual({ sent: 1, requests: 1, pending: 0 });
    const call = calls[0] as Call;
    expect(call.headers).toMatchObject({ 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0' });
    expect(decodeWriteRequest(snappy.uncompress(call.body))).toEqual([
      { labels: [{ name: '__name__', value: 'argus_objective_compliance_ratio' }, { name: 'objective', value: 'o' }], samples: [{ value: 0.75, timestamp: NOW }] },
    ]);
  });

  it('batches by samples per request and merges a series\' samples in time order', async () => {
    const { transport, calls } = receiver();
    const { c } = client(transport, { maxSamplesPerRequest: 4 });
    c.enqueue(series(2), NOW - 2000);
    c.enqueue(series(2), NOW - 1000);
    c.enqueue(series(3), NOW);
    const result = await c.flush();
    expect(result.sent).toBe(7);
    expect(calls).toHaveLength(2);
    const first = decodeWriteRequest(snappy.uncompress((calls[0] as Call).body));
    expect(first).toHaveLength(2);
    expect(first[0]?.samples.map((s) => s.timestamp)).toEqual([NOW - 2000, NOW - 1000]);
  });

  it('retries 5xx and 429 with growing backoff, honouring Retry-After', async () => {
    const { transport, calls } = receiver([503, 500, 429], { 'retry-after': '2' });
    const { c, sleeps } = client(transport, { minBackoffMs: 100, maxBackoffMs: 10_000 });
    c.enqueue(series(1), NOW);
    const result = await c.flush();
    expect(result).toMatchObject({ sent: 1, pending: 0 });
    expect(calls).toHaveLength(4);
    // Equal jitter with random 0.5: 3/4 of 100, then of 200; then the server's 2 s.
    expect(sleeps).toEqual([75, 150, 2000]);
  });

  it('never retries a 4xx: the samples are dropped and counted as rejected', async () => {
    const { transport, calls } = receiver([400]);
    const { c } = client(transport);
    c.enqueue(series(3), NOW);
    const result = await c.flush();
    expect(calls).toHaveLength(1);
    expect(result.error?.status).toBe(400);
    expect(result.error?.retryable).toBe(false);
    expect(c.buffered).toBe(0);
    expect(c.dropped.rejected).toBe(3);
  });

  it('keeps the samples when the receiver stays down, and sends them on a later flush', async () => {
    const { transport, calls } = receiver([new TypeError('fetch failed'), new TypeError('fetch failed')]);
    const { c } = client(transport, { maxAttempts: 2 });
    c.enqueue(series(2), NOW);
    const down = await c.flush();
    expect(down).toMatchObject({ sent: 0, pending: 2 });
    expect(down.error?.name).toBe('RemoteWriteError');
    expect(down.error?.retryable).toBe(true);
    const up = await c.flush();
    expect(up).toMatchObject({ sent: 2, pending: 0 });
    expect(calls).toHaveLength(3);
    expect(c.dropped).toEqual({ buffer_full: 0, too_old: 0, rejected: 0 });
  });

  it('drops the oldest samples beyond its buffer and those too old to be accepted, and counts them', async () => {
    const { transport } = receiver();
    const { c } = client(transport, { maxSamplesPerRequest: 2, maxBufferedSamples: 4, maxSampleAgeMs: 60_000 });
    c.enqueue(series(2), NOW - 120_000);
    c.enqueue(series(2), NOW - 1000);
    c.enqueue(series(2), NOW);
    expect(c.buffered).toBe(4);
    expect(c.dropped.buffer_full).toBe(2);
    c.enqueue([], NOW);
    const result = await c.flush();
    expect(result.sent).toBe(4);
    expect(c.droppedSeries('argus_remote_write_dropped_samples_total')).toEqual([
      { name: 'argus_remote_write_dropped_samples_total', labels: { reason: 'buffer_full' }, value: 2 },
      { name: 'argus_remote_write_dropped_samples_total', labels: { reason: 'too_old' }, value: 0 },
      { name: 'argus_remote_write_dropped_samples_total', labels: { reason: 'rejected' }, value: 0 },
    ]);
    const { c: aging } = client(transport, { maxSampleAgeMs: 60_000 });
    aging.enqueue(series(3), NOW - 61_000);
    expect((await aging.flush()).sent).toBe(0);
    expect(aging.dropped.too_old).toBe(3);
  });

  it('adds bearer or basic authorization', async () => {
    for (const [auth, expected] of [
      [bearerAuth('s3cret'), 'Bearer s3cret'],
      [basicAuth('argus', 'pa:ss'), `Basic ${Buffer.from('argus:pa:ss').toString('base64')}`],
    ] as const) {
      const { transport, calls } = receiver();
      const { c } = client(transport, { auth });
      c.enqueue(series(1), NOW);
      await c.flush();
      expect(calls[0]?.headers.authorization).toBe(expected);
    }
  });
});
