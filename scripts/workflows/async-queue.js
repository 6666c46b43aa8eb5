'use strict';
const {
	T,
	AI_CREDENTIAL,
	Workflow,
	webhook,
	respond,
	assignments,
	condition,
	table,
	tableColumns,
	tableFilter,
	ensureTable,
} = require('./builder');

const w = new Workflow('async-queue', 'AI patterns: async job queue');
const F = w.file;
const TABLE = 'ai_jobs';
const COLUMNS = ['jobId', 'status', 'text', 'asOf', 'callbackUrl', 'result', 'error'];

w.note(
	'About',
	`## Async queue processing
The caller does not wait for the AI: it gets a job id at once, and the answer later by callback or by asking.

**POST /webhook/ai/jobs** \`{"text": "...", "asOf": "<when the data was read>", "callbackUrl": "https://..."}\`
→ **202** \`{"jobId", "statusUrl"}\` at once; the work runs after the answer:
data older than 7 days is rejected (**Is the data fresh?**), the AI Call has the Batch timeout (30 s per attempt) and 3 retries, the result is stored in the Data Table **${TABLE}** and POSTed to \`callbackUrl\`.

**GET /webhook/ai/jobs/<jobId>** → **200** \`{"status": "queued | done | failed | rejected_stale", "result", "error"}\` or **404**.

Runs unchanged in n8n queue mode: the job table lives in n8n's database, which main and workers share.`,
	[0, -0.4],
	640,
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. Pick your **AI Service** credential, model and prompt in **Summarize (AI Call)**.
2. Set the freshness thresholds your data allows in **Is the data fresh?**.
3. The table **${TABLE}** is created on the first request (**Ensure jobs table**, "Reuse Existing Tables"); its columns are text. **Delete old jobs** keeps 30 days: n8n caps all Data Tables together at 200 MB (\`N8N_DATA_TABLES_MAX_SIZE_BYTES\`).
4. The GET path is \`ai/jobs/:id\`: n8n serves paths with a parameter under the node's webhook ID, which this sample sets to \`ai\`. A copy of the node gets a new ID: read the URL from the node.
5. The webhooks are open to anyone who can reach n8n: set **Authentication** (e.g. Header Auth) on both before exposing them. Job ids are random UUIDs, not guessable.
6. Callbacks go to any URL the caller names (redirects are not followed): in production, allow-list the hosts in **Has callback?** and sign the body.`,
	[3.5, -0.4],
	688,
);

// POST: take the job, answer 202, then work.
const post = webhook('POST', 'ai/jobs');
w.node('POST /ai/jobs', T.webhook, post.params, [0, 0], post.extra);
w.node(
	'Check job',
	T.completenessCheck,
	{ rules: { rule: [{ path: 'body.text', check: 'notEmpty', name: 'text given' }] } },
	[1, 0],
);
w.node(
	'Respond 400',
	T.respond,
	respond(400, '={{ { error: "invalid_job", problems: $json.completeness.failed } }}'),
	[2, 1],
);
w.node('Ensure jobs table', T.dataTable, ensureTable(TABLE, COLUMNS), [2, 0], {
	// Two first requests at once may both try to create it: the second one's error is harmless.
	onError: 'continueRegularOutput',
});
w.node(
	'Make job id',
	T.crypto,
	{ action: 'generate', dataPropertyName: 'jobId', encodingType: 'uuid' },
	[3, 0],
);
const job = '$("Check job").first().json.body';
w.node(
	'New job',
	T.set,
	assignments(
		F,
		'New job',
		{
			jobId: ['string', '={{ "job-" + $json.jobId }}'],
			status: ['string', 'queued'],
			text: ['string', `={{ ${job}.text }}`],
			asOf: ['string', `={{ ${job}.asOf ?? "" }}`],
			callbackUrl: ['string', `={{ ${job}.callbackUrl ?? "" }}`],
		},
		false,
	),
	[4, 0],
);
w.node(
	'Insert job',
	T.dataTable,
	{
		resource: 'row',
		operation: 'insert',
		dataTableId: table(TABLE),
		columns: tableColumns({
			jobId: '={{ $json.jobId }}',
			status: '={{ $json.status }}',
			text: '={{ $json.text }}',
			asOf: '={{ $json.asOf }}',
			callbackUrl: '={{ $json.callbackUrl }}',
			result: '',
			error: '',
		}),
		options: {},
	},
	[5, 0],
);
w.node(
	'Respond 202',
	T.respond,
	respond(
		202,
		'={{ { jobId: $json.jobId, status: $json.status, statusUrl: "/webhook/ai/jobs/" + $json.jobId } }}',
	),
	[6, 0],
);
w.node(
	'Is the data fresh?',
	T.freshnessCheck,
	{
		source: 'expression',
		value: '={{ $json.asOf || $now.toISO() }}',
		warnAfter: 1,
		warnAfterUnit: 'day',
		errorAfter: 7,
		errorAfterUnit: 'day',
	},
	[7, -0.1],
);
w.node(
	'Summarize (AI Call)',
	T.aiCall,
	{
		model: { __rl: true, mode: 'id', value: 'sim-standard' },
		systemPrompt: 'Summarize the text for a case worker in three sentences.',
		userPrompt: '={{ $json.text }}',
		timeoutPreset: 'batch',
		options: { maxRetries: 3 },
	},
	[8, 0],
	{ credentials: AI_CREDENTIAL },
);
const mark = (name, status, fields, pos) =>
	w.node(
		name,
		T.dataTable,
		{
			resource: 'row',
			operation: 'update',
			dataTableId: table(TABLE),
			...tableFilter('jobId', '={{ $json.jobId }}'),
			columns: tableColumns({ status, ...fields }),
			options: {},
		},
		pos,
	);
mark('Mark done', 'done', { result: '={{ $json.ai.text }}' }, [9, 0]);
mark(
	'Mark failed',
	'failed',
	{ error: '={{ $json.error.class + ": " + $json.error.message }}' },
	[9, 1],
);
mark(
	'Mark stale',
	'rejected_stale',
	{
		error:
			'={{ "stale data: " + $json.freshness.reason + ($json.freshness.age ? " (age " + $json.freshness.age + ")" : "") }}',
	},
	[9, 2],
);
w.node(
	'Has callback?',
	T.if,
	condition(F, 'Has callback?', '={{ $json.callbackUrl }}', 'notEmpty'),
	[10, 1],
);
w.node(
	'Notify callback',
	T.httpRequest,
	{
		method: 'POST',
		url: '={{ $json.callbackUrl }}',
		sendBody: true,
		specifyBody: 'json',
		jsonBody:
			'={{ JSON.stringify({ jobId: $json.jobId, status: $json.status, result: $json.result, error: $json.error }) }}',
		options: { timeout: 10000, redirect: { redirect: { followRedirects: false } } },
	},
	[11, 0.5],
	// A receiver that is down must not turn a finished job into a failed execution.
	{ onError: 'continueRegularOutput', retryOnFail: true, maxTries: 3, waitBetweenTries: 2000 },
);
w.node('No callback', T.noOp, {}, [11, 1.5]);

// GET: the job's status and result.
const get = webhook('GET', 'jobs/:id', { webhookId: 'ai' });
w.node('GET /ai/jobs/:id', T.webhook, get.params, [0, 2.5], get.extra);
w.node(
	'Find job',
	T.dataTable,
	{
		resource: 'row',
		operation: 'get',
		dataTableId: table(TABLE),
		...tableFilter('jobId', '={{ $json.params.id }}'),
		limit: 1,
	},
	[1, 2.5],
	// No row (or no table yet) still answers: 404.
	{ alwaysOutputData: true, onError: 'continueRegularOutput' },
);
w.node('Found?', T.if, condition(F, 'Found?', '={{ $json.jobId }}', 'notEmpty'), [2, 2.5]);
w.node(
	'Respond 200',
	T.respond,
	respond(
		200,
		'={{ { jobId: $json.jobId, status: $json.status, result: $json.result || null, error: $json.error || null, submittedAt: $json.createdAt, updatedAt: $json.updatedAt } }}',
	),
	[3, 2],
);
w.node(
	'Respond 404',
	T.respond,
	respond(
		404,
		'={{ { error: "not_found", jobId: $("GET /ai/jobs/:id").first().json.params.id } }}',
	),
	[3, 3],
);

// Nightly: keep 30 days of jobs.
w.node(
	'Every night',
	T.schedule,
	{ rule: { interval: [{ field: 'days', triggerAtHour: 3 }] } },
	[0, 3.5],
);
w.node(
	'Delete old jobs',
	T.dataTable,
	{
		resource: 'row',
		operation: 'deleteRows',
		dataTableId: table(TABLE),
		matchType: 'allConditions',
		filters: {
			conditions: [
				{
					keyName: 'createdAt',
					condition: 'lt',
					keyValue: '={{ $now.minus({ days: 30 }).toISO() }}',
				},
			],
		},
		options: {},
	},
	[1, 3.5],
	// no table yet: nothing to delete
	{ onError: 'continueRegularOutput' },
);

w.connect('POST /ai/jobs', 'Check job');
w.connect('Check job', 'Ensure jobs table', 0);
w.connect('Check job', 'Respond 400', 1);
w.connect('Ensure jobs table', 'Make job id');
w.connect('Make job id', 'New job');
w.connect('New job', 'Insert job');
w.connect('Insert job', 'Respond 202');
w.connect('Respond 202', 'Is the data fresh?');
w.connect('Is the data fresh?', 'Summarize (AI Call)', 0); // Fresh
w.connect('Is the data fresh?', 'Summarize (AI Call)', 1); // Warn: still usable
w.connect('Is the data fresh?', 'Mark stale', 2);
w.connect('Summarize (AI Call)', 'Mark done', 0);
w.connect('Summarize (AI Call)', 'Mark failed', 1);
for (const m of ['Mark done', 'Mark failed', 'Mark stale']) w.connect(m, 'Has callback?');
w.connect('Has callback?', 'Notify callback', 0);
w.connect('Has callback?', 'No callback', 1);
w.connect('GET /ai/jobs/:id', 'Find job');
w.connect('Every night', 'Delete old jobs');
w.connect('Find job', 'Found?');
w.connect('Found?', 'Respond 200', 0);
w.connect('Found?', 'Respond 404', 1);

module.exports = w;
