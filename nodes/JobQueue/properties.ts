import type { INodeProperties } from 'n8n-workflow';

import { storeProperties } from '../shared/store';

const on = (...operation: string[]) => ({ show: { operation } });

/** The Job Queue's parameters, as the editor shows them. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Acknowledge',
				value: 'acknowledge',
				description: 'Confirm the outcome was delivered (e.g. the callback was sent)',
				action: 'Acknowledge a delivery',
			},
			{
				name: 'Claim Due Jobs',
				value: 'claimDue',
				description:
					'The sweeper, on a Schedule Trigger: run jobs whose lease ran out again, deliver outcomes again, give up to a person',
				action: 'Claim due jobs',
			},
			{
				name: 'Complete',
				value: 'complete',
				description: 'Record the job’s outcome, once: the first run to finish wins',
				action: 'Complete a job',
			},
			{
				name: 'Get',
				value: 'get',
				description: 'Read a job’s status, attempt, lease and outcome: Found or Not Found',
				action: 'Get a job',
			},
			{
				name: 'Retry Later',
				value: 'retryLater',
				description:
					'Put the job back for a later sweep; after the last attempt it goes to a person',
				action: 'Retry a job later',
			},
			{
				name: 'Submit',
				value: 'submit',
				description: 'Create a job (and claim it for this execution): New, Existing or Invalid',
				action: 'Submit a job',
			},
		],
		default: 'submit',
	},
	{
		displayName: 'Queue Name',
		name: 'queue',
		type: 'string',
		default: 'ai-jobs',
		required: true,
		description:
			'Jobs live under this name in the store. All Job Queue nodes of one flow use the same name and store.',
	},
	...storeProperties(
		'the jobs',
		"Auto uses n8n's own Redis in queue mode. The Local File is not shared between hosts.",
		[{}],
		{ autoSince: 1 },
	),

	// Submit
	{
		displayName: 'Job ID',
		name: 'jobId',
		type: 'string',
		default: '',
		placeholder: '={{ $json.body.jobId }}',
		description:
			'Empty: a new random ID. An ID the caller sends makes resubmitting harmless: the same ID goes to Existing.',
		displayOptions: on('submit'),
	},
	{
		displayName: 'Job Data',
		name: 'data',
		type: 'json',
		default: '={{ $json.body }}',
		description:
			'What the work needs, kept with the job (at most 1 MB as JSON) and handed to every attempt as "data". Keep secrets out.',
		displayOptions: on('submit'),
	},
	{
		displayName: 'Start Now',
		name: 'startNow',
		type: 'boolean',
		default: true,
		description:
			'Whether this execution runs the job at once (attempt 1). Off: the job waits for the sweeper, which also spreads a burst over its runs.',
		displayOptions: on('submit'),
	},
	{
		displayName: 'Lease (Seconds)',
		name: 'leaseSeconds',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 300,
		description:
			'How long one run owns the job. Longer than the work ever takes (the AI Call’s total time plus the delivery): when it runs out, the sweeper runs the job again.',
		displayOptions: on('submit'),
	},
	{
		displayName: 'Max Attempts',
		name: 'maxAttempts',
		type: 'number',
		typeOptions: { minValue: 1, numberPrecision: 0 },
		default: 3,
		description:
			'Runs before the job goes to a person (crashed runs and Retry Later both count); also the most times an outcome is handed out for delivery',
		displayOptions: on('submit'),
	},
	{
		displayName: 'Keep Jobs (Days)',
		name: 'retentionDays',
		type: 'number',
		typeOptions: { minValue: 0.001 },
		default: 30,
		description: 'A job is deleted this long after its last change',
		displayOptions: on('submit'),
	},

	// Claim Due Jobs
	{
		displayName: 'Max Jobs per Run',
		name: 'maxJobs',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 1000, numberPrecision: 0 },
		default: 100,
		description:
			'Jobs claimed by one sweep at most, earliest due first; the rest wait for the next sweep',
		displayOptions: on('claimDue'),
	},
	{
		displayName:
			'Run this on a Schedule Trigger (e.g. every minute). Run (outputs 1) goes to the same work as a new job; Deliver to the delivery; To a Person to your review step.',
		name: 'sweepNotice',
		type: 'notice',
		default: '',
		displayOptions: on('claimDue'),
	},

	// Complete, Retry Later, Acknowledge, Get
	{
		displayName: 'Job ID',
		name: 'jobId',
		type: 'string',
		default: '={{ $json.job.id }}',
		description: 'The ID Submit or Claim Due Jobs gave out (item field job.ID)',
		displayOptions: on('complete', 'retryLater', 'acknowledge', 'get'),
	},
	{
		displayName: 'Outcome',
		name: 'outcome',
		type: 'options',
		options: [
			{ name: 'Done', value: 'done' },
			{ name: 'Failed', value: 'failed' },
			{ name: 'Rejected (Stale Data)', value: 'rejected_stale' },
			{ name: 'To a Person', value: 'human' },
		],
		default: 'done',
		description: 'The job’s final status',
		displayOptions: on('complete'),
	},
	{
		displayName: 'Result',
		name: 'result',
		type: 'json',
		default: '={{ $json.ai?.text ?? null }}',
		description:
			'What the job produced (at most 1 MB as JSON; kept with Done only); the AI Call’s text by default',
		displayOptions: on('complete'),
	},
	{
		displayName: 'Error',
		name: 'error',
		type: 'string',
		default: '={{ $json.error?.message ?? $json.error ?? "" }}',
		description:
			'Why the job did not succeed, for its status and the person who looks at it (not kept with Done)',
		displayOptions: on('complete', 'retryLater'),
	},
	{
		displayName: 'Deliver Next',
		name: 'deliver',
		type: 'boolean',
		default: true,
		description:
			'Whether the outcome is delivered next (a callback, a message) and confirmed with Acknowledge. Until then a crash makes the sweeper hand it out again, under the same delivery key.',
		displayOptions: on('complete'),
	},
	{
		displayName: 'Delay (Seconds)',
		name: 'delaySeconds',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 60,
		description: 'When the sweeper may run the job again at the earliest',
		displayOptions: on('retryLater'),
	},
	{
		displayName: 'Count as an Attempt',
		name: 'countAttempt',
		type: 'boolean',
		default: true,
		description:
			'Whether this run uses one of the job’s attempts. Off for a run that was turned away before it did anything (e.g. by a shared limit, error.sharedLimit), so a burst that waits its turn does not end with a person.',
		displayOptions: on('retryLater'),
	},
];
