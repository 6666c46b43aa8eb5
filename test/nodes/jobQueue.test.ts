import type { IDataObject, INodeParameters } from 'n8n-workflow';

import { closeAllStores } from '../../lib/stores';
import { pairedIndexes, runNode } from './helpers';

afterAll(closeAllStores);

let unique = 0;
/** A queue of its own per test: the memory store is shared by the whole file, as by one n8n process. */
const newQueue = () => `test-${++unique}-${Date.now()}`;
const memory = { store: 'memory' };
const run = (parameters: INodeParameters, items: IDataObject[]) =>
	runNode('jobQueue', { ...memory, ...parameters }, items);

describe('Job Queue node', () => {
	it('submits: new jobs, the same id again as Existing, hostile ids and data as Invalid naming the field', async () => {
		const queue = newQueue();
		const { out } = await run(
			{ operation: 'submit', queue, jobId: '={{ $json.id }}', data: '={{ $json.data }}' },
			[
				{ id: 'a', data: { text: 'one' } },
				{ id: 'a', data: { text: 'again' } },
				{ id: { nested: true }, data: {} },
				{ id: 'b', data: 'x'.repeat(1_000_001) },
				{ id: '', data: { text: 'gets an id' } },
			],
		);
		expect(pairedIndexes(out)).toEqual([[0, 4], [1], [2, 3]]);
		expect(out[0][0].json).toMatchObject({
			job: { id: 'a', status: 'running', attempt: 1, maxAttempts: 3, store: 'memory' },
			data: { text: 'one' },
		});
		expect(out[0][1].json.job).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
		expect(out[1][0].json).toMatchObject({ job: { id: 'a' }, data: { text: 'one' } });
		expect(out[2][0].json.job).toMatchObject({
			status: 'invalid',
			reason: expect.stringMatching(/^"Job ID" must be text/),
		});
		expect(out[2][1].json.job).toMatchObject({
			reason: expect.stringMatching(/^"Job Data" is \d+ bytes/),
		});
	});

	it('gets a job, and sends unknown or hostile ids to Not Found with a reason', async () => {
		const queue = newQueue();
		await run({ operation: 'submit', queue, jobId: 'j1', data: '={{ $json }}' }, [{ text: 't' }]);
		const { out } = await run({ operation: 'get', queue, jobId: '={{ $json.id }}' }, [
			{ id: 'j1' },
			{ id: 'nope' },
			{ id: ['a'] },
		]);
		expect(pairedIndexes(out)).toEqual([[0], [1, 2]]);
		expect(out[0][0].json).toMatchObject({
			job: { id: 'j1', status: 'running' },
			data: { text: 't' },
		});
		expect(out[1][0].json.job).toMatchObject({ id: 'nope', status: 'not_found' });
		expect(out[1][1].json.job).toMatchObject({ id: null, reason: expect.stringMatching(/a list/) });
	});

	it('records the first outcome only and passes the item on with the job’s new state', async () => {
		const queue = newQueue();
		await run({ operation: 'submit', queue, jobId: 'j', data: '={{ $json }}' }, [{ text: 't' }]);
		const complete = { operation: 'complete', queue, jobId: 'j', result: '={{ $json.answer }}' };
		const first = await run(complete, [{ answer: 'A', keep: 1 }]);
		expect(first.out[0][0].json).toMatchObject({
			keep: 1,
			job: {
				status: 'done',
				result: 'A',
				finishedAttempt: 1,
				deliveryKey: 'j:1',
				delivery: 'pending',
			},
		});
		const second = await run(complete, [{ answer: 'B' }]);
		expect(second.out[0]).toHaveLength(0);
		expect(second.out[1][0].json.job).toMatchObject({
			result: 'A',
			reason: expect.stringMatching(/already done/),
		});
		const ack = await run({ operation: 'acknowledge', queue, jobId: 'j' }, [{}, {}]);
		expect(pairedIndexes(ack.out)).toEqual([[0], [1]]);
		expect(ack.out[0][0].json.job).toMatchObject({ delivery: 'delivered' });
	});

	it('sends an outcome an item computes wrongly to Unrecorded, naming the field', async () => {
		const queue = newQueue();
		await run({ operation: 'submit', queue, jobId: 'j', data: '={{ $json }}' }, [{}]);
		const { out } = await run(
			{ operation: 'complete', queue, jobId: 'j', outcome: '={{ $json.outcome }}' },
			[{ outcome: 'maybe' }],
		);
		expect(out[1][0].json.job).toMatchObject({
			reason: expect.stringMatching(/^"Outcome" must be one of/),
		});
	});

	it('runs a job whose lease ran out again from the sweep, and hands it to a person after its attempts', async () => {
		const queue = newQueue();
		await run(
			{
				operation: 'submit',
				queue,
				jobId: 'j',
				data: '={{ $json }}',
				leaseSeconds: 1,
				maxAttempts: 2,
			},
			[{ text: 't' }],
		);
		const sweep = { operation: 'claimDue', queue };
		await new Promise((r) => setTimeout(r, 1_050));
		const first = await run(sweep, [{}, {}]); // one sweep, whatever the trigger sends
		expect(pairedIndexes(first.out)).toEqual([[0], [], []]);
		expect(first.out[0][0].json).toMatchObject({
			job: { id: 'j', attempt: 2 },
			data: { text: 't' },
		});
		await new Promise((r) => setTimeout(r, 1_050));
		const second = await run(sweep, [{}]);
		expect(second.out[2][0].json.job).toMatchObject({
			status: 'human',
			reason: expect.stringMatching(/gave up after 2 attempts/),
		});
	});

	it('stops on settings, naming the parameter and the item', async () => {
		const lease = await run(
			{ operation: 'submit', queue: newQueue(), leaseSeconds: -1, data: '={{ $json }}' },
			[{}],
		);
		expect(lease.error?.message).toMatch(/^Item 0: "Lease \(Seconds\)" must be more than 0/);
		const name = await run({ operation: 'get', queue: '={{ $json.q }}', jobId: 'x' }, [{ q: '' }]);
		expect(name.error?.message).toMatch(/^Item 0: "Queue Name" is empty/);
	});
});
