import { CloudWatchClient, CloudWatchServiceException, InvalidParameterValueException, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudWatchPublisher, CloudWatchPublishError } from '../../src/adapters/aws/cloudwatch-publisher.ts';

const NOW = Date.UTC(2026, 0, 1, 12);
const OK = { $metadata: { httpStatusCode: 200, requestId: '2b5c0f1e-0000-4000-8000-000000000001', attempts: 1, totalRetryDelay: 0 } };

const cw = mockClient(CloudWatchClient);
afterEach(() => cw.reset());

function publisher(extra: Partial<ConstructorParameters<typeof CloudWatchPublisher>[0]> = {}) {
  const sleeps: number[] = [];
  const p = new CloudWatchPublisher({ client: new CloudWatchClient({ region: 'eu-west-1' }), sleep: async (ms) => void sleeps.push(ms), ...extra });
  return { p, sleeps };
}

const ratios = (n: number) => Array.from({ length: n }, (_, i) => ({ name: 'argus_requirement_compliance_ratio', labels: { requirement: `r${i}` }, value: i / n }));

describe('CloudWatchPublisher', () => {
  it('puts each series as a datum with its labels as dimensions, in the Argus namespace', async () => {
    cw.on(PutMetricDataCommand).resolves(OK);
    const { p } = publisher();
    const result = await p.publish([{ name: 'argus_objective_burn_rate', labels: { window: '1h', objective: 'o' }, value: 2.5 }], NOW);
    expect(result).toEqual({ requests: 1, metrics: 1, skipped: 0 });
    const input = cw.commandCalls(PutMetricDataCommand)[0]!.args[0].input;
    expect(input.Namespace).toBe('Argus');
    expect(input.MetricData).toEqual([
      {
        MetricName: 'argus_objective_burn_rate',
        Dimensions: [{ Name: 'objective', Value: 'o' }, { Name: 'window', Value: '1h' }],
        Value: 2.5,
        Timestamp: new Date(NOW),
        Unit: 'None',
        StorageResolution: 60,
      },
    ]);
  });

  it('splits into requests of at most 1000 metrics and within the size budget', async () => {
    cw.on(PutMetricDataCommand).resolves(OK);
    const { p } = publisher();
    expect((await p.publish(ratios(2500), NOW)).requests).toBe(3);
    expect(cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input.MetricData?.length)).toEqual([1000, 1000, 500]);
    const small = publisher({ maxRequestBytes: 2_000 }).p;
    const batches = small.batches(ratios(50).map((s) => ({ MetricName: s.name, Dimensions: [{ Name: 'requirement', Value: s.labels.requirement }], Value: s.value })));
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.flat()).toHaveLength(50);
  });

  it('retries a throttled request with backoff and succeeds', async () => {
    const throttled = new CloudWatchServiceException({
      name: 'Throttling',
      $fault: 'client',
      message: 'Rate exceeded',
      $metadata: { httpStatusCode: 400, requestId: '2b5c0f1e-0000-4000-8000-000000000002', attempts: 1, totalRetryDelay: 0 },
    });
    cw.on(PutMetricDataCommand).rejectsOnce(throttled).resolves(OK);
    const { p, sleeps } = publisher();
    const result = await p.publish(ratios(3), NOW);
    expect(result.requests).toBe(1);
    expect(cw.commandCalls(PutMetricDataCommand)).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
  });

  it('does not retry an invalid request and reports it as a typed error', async () => {
    cw.on(PutMetricDataCommand).rejects(
      new InvalidParameterValueException({ message: 'The value NaN for parameter MetricData.member.1.Value is invalid.', $metadata: { httpStatusCode: 400, requestId: 'r3' } }),
    );
    const { p } = publisher();
    await expect(p.publish(ratios(1), NOW)).rejects.toBeInstanceOf(CloudWatchPublishError);
    expect(cw.commandCalls(PutMetricDataCommand)).toHaveLength(1);
  });

  it('leaves out values CloudWatch refuses and per-pair series by default', async () => {
    cw.on(PutMetricDataCommand).resolves(OK);
    const { p } = publisher();
    const result = await p.publish(
      [
        { name: 'argus_objective_burn_rate', labels: { objective: 'strict', window: '1h' }, value: Number.POSITIVE_INFINITY },
        { name: 'argus_resource_requirement_compliant', labels: { resource: 'b', requirement: 'r' }, value: 1 },
        { name: 'argus_objective_compliance_ratio', labels: { objective: 'o' }, value: 1 },
      ],
      NOW,
    );
    expect(result).toEqual({ requests: 1, metrics: 1, skipped: 1 });
  });
});
