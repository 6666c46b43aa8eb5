import {
	NodeConnectionTypes,
	NodeOperationError,
	jsonParse,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import { randomUUID } from 'node:crypto';

import {
	JobQueue as Queue,
	deliveryKey,
	jobIdIssue,
	storableIssue,
	type Change,
	type Job,
	type Outcome,
	OUTCOMES,
} from '../../lib/jobs';
import { StoreError } from '../../lib/stores/common';
import type { StateStore } from '../../lib/stores';
import { describeValue, readNumber } from '../../lib/values';
import { itemParameter, rawParameter } from '../shared/parameters';
import { outputsByOperation } from '../shared/outputs';
import { openStore, storeCredentials } from '../shared/store';
import { properties } from './properties';

type Operation = 'submit' | 'claimDue' | 'complete' | 'retryLater' | 'acknowledge' | 'get';

/** Output names per operation; an item leaves on exactly one of them. */
const OUTPUTS: Record<Operation, string[]> = {
	submit: ['New', 'Existing', 'Invalid'],
	claimDue: ['Run', 'Deliver', 'To a Person'],
	complete: ['Recorded', 'Unrecorded'],
	retryLater: ['Queued', 'Not Queued'],
	acknowledge: ['Confirmed', 'Unconfirmed'],
	get: ['Found', 'Not Found'],
};
const SWEEP_OUTPUT = { run: 0, deliver: 1, person: 2 } as const;

const MAX_LEASE_SECONDS = 365 * 86_400;
const MAX_RETENTION_DAYS = 3_650;
const MAX_ATTEMPTS = 100;

const iso = (ms: number | null | undefined) =>
	typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : null;

/** A job as items show it: times as ISO text, the delivery key, which store holds it. */
function view(job: Job, queue: string, store: StateStore): IDataObject {
	return {
		id: job.id,
		queue,
		status: job.status,
		attempt: job.attempt,
		maxAttempts: job.maxAttempts,
		leaseUntil: iso(job.leaseUntil),
		result: (job.result ?? null) as IDataObject,
		error: (job.error ?? null) as IDataObject,
		finishedAttempt: job.finishedAttempt ?? null,
		deliveryKey: deliveryKey(job),
		delivery: job.delivery,
		createdAt: iso(job.createdAt),
		updatedAt: iso(job.updatedAt),
		finishedAt: iso(job.finishedAt),
		store: store.kind,
	};
}

export class JobQueue implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Job Queue',
		name: 'jobQueue',
		icon: { light: 'file:jobQueue.svg', dark: 'file:jobQueue.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: `={{ (${JSON.stringify({
			submit: 'Submit',
			claimDue: 'Claim Due Jobs',
			complete: 'Complete',
			retryLater: 'Retry Later',
			acknowledge: 'Acknowledge',
			get: 'Get',
		})})[$parameter["operation"]] + " · " + $parameter["queue"] }}`,
		description:
			'Async jobs that survive a crash: state, attempts and a lease per job, a sweeper that runs abandoned jobs again, outcomes recorded once',
		defaults: { name: 'Job Queue' },
		usableAsTool: undefined, // not an agent tool (no "… Tool" variant)
		inputs: [NodeConnectionTypes.Main],
		outputs: outputsByOperation(OUTPUTS),
		credentials: storeCredentials,
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const operation = this.getNodeParameter('operation', 0) as Operation;
		const outputs: INodeExecutionData[][] = OUTPUTS[operation].map(() => []);
		if (!items.length) return outputs;

		const config = (i: number, message: string) => {
			const error = new NodeOperationError(this.getNode(), `Item ${i}: ${message}`, {
				itemIndex: i,
			});
			error.message = `Item ${i}: ${message}`; // n8n rewrites messages that mention ECONNREFUSED & co.
			return error;
		};
		const queueName = itemParameter<unknown>(this, 'queue');
		const nameOf = (i: number) => {
			const name = queueName(i);
			const issue = jobIdIssue(name);
			if (issue) throw config(i, `"Queue Name" ${issue}`);
			return String(name);
		};
		const store = await openStore(this);
		const queues = new Map<string, Queue>();
		const queueOf = (name: string) => {
			let q = queues.get(name);
			if (!q) queues.set(name, (q = new Queue(store, `jobs:${name}`)));
			return q;
		};
		const emit = (output: number, i: number, json: IDataObject) =>
			outputs[output].push({ json, pairedItem: { item: i } });

		const run = async (i: number, task: () => Promise<unknown>) => {
			try {
				await task();
			} catch (error) {
				const failure =
					error instanceof NodeOperationError
						? error
						: config(
								i,
								error instanceof StoreError
									? `the job store failed, so the item was stopped: ${error.message}`
									: (error as Error).message,
							);
				if (!this.continueOnFail()) throw failure;
				outputs[0].push({
					json: { ...items[i].json, error: failure.message },
					error: failure,
					pairedItem: { item: i },
				});
			}
		};

		if (operation === 'claimDue') {
			// One sweep per run, whatever the trigger sent.
			const limit = readNumber(this.getNodeParameter('maxJobs', 0, 100));
			await run(0, async () => {
				if (limit === undefined || !Number.isInteger(limit) || limit < 1 || limit > 1000)
					throw config(0, '"Max Jobs per Run" must be a whole number from 1 to 1000');
				const name = nameOf(0);
				for (const due of await queueOf(name).claimDue(limit))
					emit(SWEEP_OUTPUT[due.action], 0, {
						job: { ...view(due.job, name, store), ...(due.reason ? { reason: due.reason } : {}) },
						data: due.job.data as IDataObject,
					});
			});
			return outputs;
		}

		const jobId = itemParameter<unknown>(this, 'jobId', '');
		if (operation === 'submit') {
			const data = itemParameter<unknown>(this, 'data');
			const dataIsExpression = String(rawParameter(this, 'data') ?? '').startsWith('=');
			const settings = submitSettings(this, config);
			const startNow = itemParameter<boolean>(this, 'startNow', true);
			for (let i = 0; i < items.length; i++)
				await run(i, async () => {
					const name = nameOf(i);
					const s = settings(i);
					const invalid = (field: string, reason: string, id: string | null = null): void => {
						emit(2, i, {
							...items[i].json,
							job: { id, queue: name, status: 'invalid', reason: `"${field}" ${reason}` },
						});
					};
					const rawId = jobId(i);
					const id = rawId === '' || rawId === undefined || rawId === null ? randomUUID() : rawId;
					const idIssue = jobIdIssue(id);
					if (idIssue) {
						invalid('Job ID', idIssue);
						return;
					}
					let value = data(i);
					// A JSON literal typed into the field arrives as text; an expression's value is kept.
					if (!dataIsExpression && typeof value === 'string')
						value = jsonParse(value, { errorMessage: '"Job Data" is not valid JSON' });
					const dataIssue = storableIssue(value);
					if (dataIssue) {
						invalid('Job Data', dataIssue, String(id));
						return;
					}
					const { created, job } = await queueOf(name).submit(String(id), {
						data: value,
						startNow: startNow(i) !== false,
						...s,
					});
					emit(created ? 0 : 1, i, { job: view(job, name, store), data: job.data as IDataObject });
				});
			return outputs;
		}

		if (operation === 'get') {
			for (let i = 0; i < items.length; i++)
				await run(i, async () => {
					const name = nameOf(i);
					const id = jobId(i);
					const issue = jobIdIssue(id);
					const job = issue ? undefined : await queueOf(name).get(String(id));
					if (job) emit(0, i, { job: view(job, name, store), data: job.data as IDataObject });
					else
						emit(1, i, {
							...items[i].json,
							job: {
								id: issue ? null : String(id),
								queue: name,
								status: 'not_found',
								reason: issue ? `"Job ID" ${issue}` : 'no job with this ID (or it was purged)',
							},
						});
				});
			return outputs;
		}

		// Complete, Retry Later, Acknowledge: change one job, pass the item on with the job's new state.
		const change = changeTask(this, operation, config);
		for (let i = 0; i < items.length; i++)
			await run(i, async () => {
				const name = nameOf(i);
				const id = jobId(i);
				const issue = jobIdIssue(id);
				const result: Change | { changed: false; reason: string; job?: undefined } = issue
					? { changed: false, reason: `"Job ID" ${issue}` }
					: await change(i, queueOf(name), String(id));
				const job = result.job
					? view(result.job, name, store)
					: { id: issue ? null : String(id), queue: name, status: 'not_found' };
				emit(result.changed ? 0 : 1, i, {
					...items[i].json,
					job: result.changed ? job : { ...job, reason: result.reason },
				});
			});
		return outputs;
	}
}

/** Lease, attempts and retention of Submit, checked as configuration (they name the parameter). */
function submitSettings(
	ctx: IExecuteFunctions,
	config: (i: number, message: string) => NodeOperationError,
) {
	const lease = itemParameter<unknown>(ctx, 'leaseSeconds', 300);
	const attempts = itemParameter<unknown>(ctx, 'maxAttempts', 3);
	const retention = itemParameter<unknown>(ctx, 'retentionDays', 30);
	return (i: number) => {
		const number = (raw: unknown, label: string, max: number, whole = false) => {
			const n = readNumber(raw);
			if (n === undefined || !(n > 0) || n > max || (whole && !Number.isInteger(n)))
				throw config(
					i,
					`"${label}" must be ${whole ? 'a whole number ' : ''}more than 0 and at most ${max}, got ${describeValue(raw)}`,
				);
			return n;
		};
		// at least a second of lease (as the editor asks) and a whole millisecond of retention
		const leaseSeconds = number(lease(i), 'Lease (Seconds)', MAX_LEASE_SECONDS);
		if (leaseSeconds < 1)
			throw config(i, `"Lease (Seconds)" must be at least 1, got ${describeValue(lease(i))}`);
		const retentionDays = number(retention(i), 'Keep Jobs (Days)', MAX_RETENTION_DAYS);
		if (retentionDays < 0.001)
			throw config(
				i,
				`"Keep Jobs (Days)" must be at least 0.001 (about 1.5 minutes), got ${describeValue(retention(i))}`,
			);
		const retentionMs = Math.ceil(retentionDays * 86_400_000);
		return {
			leaseMs: Math.round(leaseSeconds * 1000),
			maxAttempts: number(attempts(i), 'Max Attempts', MAX_ATTEMPTS, true),
			retentionMs,
		};
	};
}

/** The change of Complete, Retry Later or Acknowledge for item i; item values that cannot be kept go to the second output. */
function changeTask(
	ctx: IExecuteFunctions,
	operation: 'complete' | 'retryLater' | 'acknowledge',
	config: (i: number, message: string) => NodeOperationError,
): (i: number, queue: Queue, id: string) => Promise<Change> {
	if (operation === 'acknowledge') return async (_i, queue, id) => await queue.acknowledge(id);
	const error = itemParameter<unknown>(ctx, 'error', '');
	const errorOf = (i: number) => {
		const value = error(i);
		return value === '' || value === undefined || value === null ? undefined : value;
	};
	/** A value the item computed cannot be kept: the job as it is, with the reason. */
	const refuse = async (
		queue: Queue,
		id: string,
		field: string,
		reason: string,
	): Promise<Change> => ({
		changed: false,
		job: await queue.get(id),
		reason: `"${field}" ${reason}, so nothing was recorded`,
	});
	if (operation === 'retryLater') {
		const delay = itemParameter<unknown>(ctx, 'delaySeconds', 60);
		const countAttempt = itemParameter<unknown>(ctx, 'countAttempt', true);
		return async (i, queue, id) => {
			const raw = delay(i);
			const seconds = readNumber(raw);
			if (seconds === undefined || seconds < 0 || seconds > MAX_LEASE_SECONDS)
				throw config(
					i,
					`"Delay (Seconds)" must be from 0 to ${MAX_LEASE_SECONDS}, got ${describeValue(raw)}`,
				);
			const e = errorOf(i);
			const issue = storableIssue(e);
			if (issue) return await refuse(queue, id, 'Error', issue);
			return await queue.retryLater(id, Math.round(seconds * 1000), e, countAttempt(i) !== false);
		};
	}
	const outcome = itemParameter<unknown>(ctx, 'outcome', 'done');
	const resultParam = itemParameter<unknown>(ctx, 'result', null);
	const resultIsExpression = String(rawParameter(ctx, 'result') ?? '').startsWith('=');
	// A JSON literal typed into the field arrives as text (as for Job Data); an expression's value is kept.
	const result = (i: number) => {
		const value = resultParam(i);
		if (resultIsExpression || typeof value !== 'string') return value;
		try {
			return JSON.parse(value) as unknown;
		} catch {
			throw config(i, '"Result" is not valid JSON');
		}
	};
	const deliver = itemParameter<unknown>(ctx, 'deliver', true);
	return async (i, queue, id) => {
		const status = outcome(i);
		if (!OUTCOMES.includes(status as Outcome))
			return await refuse(
				queue,
				id,
				'Outcome',
				`must be one of ${OUTCOMES.join(', ')}, got ${describeValue(status)}`,
			);
		const value = status === 'done' ? result(i) : undefined;
		const e = status === 'done' ? undefined : errorOf(i);
		for (const [field, v] of [
			['Result', value],
			['Error', e],
		] as const) {
			const issue = storableIssue(v);
			if (issue) return await refuse(queue, id, field, issue);
		}
		return await queue.complete(id, {
			status: status as Outcome,
			result: value,
			error: e,
			deliver: deliver(i) !== false,
		});
	};
}
