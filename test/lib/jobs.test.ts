import { JobQueue, deliveryKey, jobIdIssue, storableIssue } from '../../lib/jobs';
import { MemoryStore } from '../../lib/stores/memory';

const LEASE = 60_000;
const settings = { leaseMs: LEASE, maxAttempts: 3, retentionMs: 86_400_000, startNow: true };

function setup() {
	let now = 1_700_000_000_000;
	const clock = () => now;
	const store = new MemoryStore({ now: clock });
	const queue = (name = 'q') => new JobQueue(store, name, clock);
	return { queue, store, advance: (ms: number) => (now += ms), now: () => now };
}

describe('Job Queue', () => {
	it('submits once per id: a second submit of the same id gets the existing job', async () => {
		const { queue, now } = setup();
		const q = queue();
		const first = await q.submit('a', { ...settings, data: { text: 'hi' } });
		expect(first.created).toBe(true);
		expect(first.job).toMatchObject({ status: 'running', attempt: 1, leaseUntil: now() + LEASE });
		const again = await q.submit('a', { ...settings, data: { text: 'other' } });
		expect(again).toMatchObject({ created: false, job: { data: { text: 'hi' } } });
	});

	it('runs a job again only after its lease ran out, once for two sweepers', async () => {
		const { queue, advance } = setup();
		await queue().submit('a', { ...settings, data: 1 });
		expect(await queue().claimDue(10)).toEqual([]);
		advance(LEASE + 1);
		const [one, two] = await Promise.all([queue().claimDue(10), queue().claimDue(10)]);
		const runs = [...one, ...two];
		expect(runs).toHaveLength(1);
		expect(runs[0]).toMatchObject({ action: 'run', job: { attempt: 2, status: 'running' } });
		expect(await queue().claimDue(10)).toEqual([]);
	});

	it('records the first outcome only: a late original after a takeover is told so', async () => {
		const { queue, advance } = setup();
		const q = queue();
		await q.submit('a', { ...settings, data: 1 });
		advance(LEASE + 1);
		await q.claimDue(10); // attempt 2 running
		const late = await q.complete('a', { status: 'done', result: 'from 1', deliver: true });
		expect(late).toMatchObject({ changed: true, job: { status: 'done', finishedAttempt: 2 } });
		const second = await q.complete('a', { status: 'done', result: 'from 2', deliver: true });
		expect(second).toMatchObject({ changed: false, reason: expect.stringMatching(/already done/) });
		expect((await q.get('a'))?.result).toBe('from 1');
	});

	it('hands an undelivered outcome out again under the same key, and not after Acknowledge', async () => {
		const { queue, advance } = setup();
		const q = queue();
		await q.submit('a', { ...settings, data: 1 });
		const done = await q.complete('a', { status: 'done', result: 'r', deliver: true });
		const key = deliveryKey(done.job!);
		advance(LEASE + 1); // crashed before the callback was acknowledged
		const [again] = await q.claimDue(10);
		expect(again.action).toBe('deliver');
		expect(deliveryKey(again.job)).toBe(key);
		expect((await q.acknowledge('a')).changed).toBe(true);
		advance(LEASE + 1);
		expect(await q.claimDue(10)).toEqual([]);
		expect(await q.acknowledge('a')).toMatchObject({ changed: false });
	});

	it('gives a job to a person after its attempts, whether runs crashed or asked to retry', async () => {
		const { queue, advance } = setup();
		const q = queue();
		await q.submit('a', { ...settings, data: 1 });
		advance(LEASE + 1); // attempt 1 crashed
		expect((await q.claimDue(10))[0].job.attempt).toBe(2);
		expect((await q.retryLater('a', 5_000, 'server_error')).changed).toBe(true);
		advance(4_000);
		expect(await q.claimDue(10)).toEqual([]); // not yet due
		advance(1_001);
		expect((await q.claimDue(10))[0].job.attempt).toBe(3);
		await q.retryLater('a', 5_000, 'server_error'); // last attempt: due at once
		const [person] = await q.claimDue(10);
		expect(person).toMatchObject({
			action: 'person',
			job: { status: 'human', error: 'server_error', attempt: 3, delivery: 'pending' },
		});
		expect(person.reason).toMatch(/gave up after 3 attempts/);
		expect(await q.count()).toEqual({ human: 1 });
	});

	it('does not use an attempt for a run turned away before it did anything', async () => {
		const { queue, advance } = setup();
		const q = queue();
		await q.submit('a', { ...settings, maxAttempts: 1, data: 1 });
		for (let i = 0; i < 5; i++) {
			expect((await q.retryLater('a', 1_000, 'shared limit', false)).job).toMatchObject({
				attempt: 0,
			});
			advance(1_001);
			expect(await q.claimDue(10)).toMatchObject([{ action: 'run', job: { attempt: 1 } }]);
		}
		await q.retryLater('a', 1_000, 'server_error'); // counts: the only attempt is used
		expect(await q.claimDue(10)).toMatchObject([{ action: 'person' }]);
	});

	it('queues a job for the sweeper when it does not start now', async () => {
		const { queue } = setup();
		const q = queue();
		const { job } = await q.submit('a', { ...settings, startNow: false, data: 1 });
		expect(job).toMatchObject({ status: 'queued', attempt: 0 });
		expect(await q.count()).toEqual({ queued: 1 });
		expect((await q.claimDue(10))[0]).toMatchObject({ action: 'run', job: { attempt: 1 } });
	});

	it('keeps queues apart and takes the earliest due first, up to the limit', async () => {
		const { queue, advance } = setup();
		for (const id of ['x', 'y', 'z']) {
			await queue('one').submit(id, { ...settings, data: id });
			advance(10);
		}
		await queue('two').submit('x', { ...settings, data: 'other' });
		advance(LEASE + 1);
		const due = await queue('one').claimDue(2);
		expect(due.map((d) => d.job.id)).toEqual(['x', 'y']);
		expect((await queue('two').get('x'))?.data).toBe('other');
	});
});

describe('item values as job ids and data', () => {
	it('refuses what no store key or URL can hold, naming why', () => {
		expect(jobIdIssue('job-1')).toBeUndefined();
		expect(jobIdIssue(42)).toBeUndefined();
		expect(jobIdIssue({})).toMatch(/text or a number/);
		expect(jobIdIssue(['a'])).toMatch(/a list/);
		expect(jobIdIssue(NaN)).toMatch(/text or a number/);
		expect(jobIdIssue('')).toMatch(/empty/);
		expect(jobIdIssue('x'.repeat(201))).toMatch(/201 characters/);
		expect(jobIdIssue('a\u0000b')).toMatch(/control/);
		expect(jobIdIssue('a\ud800b')).toMatch(/surrogate/);
		expect(jobIdIssue('😀')).toBeUndefined();
	});

	it('refuses data JSON cannot hold or larger than 1 MB', () => {
		const loop: Record<string, unknown> = {};
		loop.self = loop;
		expect(storableIssue(loop)).toMatch(/JSON/);
		expect(storableIssue({ n: 1n })).toMatch(/JSON/);
		expect(storableIssue('x'.repeat(1_000_001))).toMatch(/bytes as JSON/);
		expect(storableIssue({ text: 'fine' })).toBeUndefined();
	});
});
