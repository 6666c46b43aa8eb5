'use strict';
const { T, AI_CREDENTIAL, SIM, Workflow, webhook, respond, condition } = require('./builder');

const w = new Workflow('async-queue', 'AI patterns: async job queue');
const F = w.file;
const QUEUE = 'ai-jobs';
/** Lease: longer than a run can take (4 AI attempts of 30 s with backoff, plus the callback). */
const LEASE_SECONDS = 300;

w.note(
	'About',
	`## Async jobs that survive a crash
The caller does not wait for the AI: it gets a job id at once, and the answer later by callback or by asking.

**POST /webhook/ai/jobs** \`{"text", "asOf"?, "callbackUrl"?, "jobId"?}\` → **202** \`{"jobId", "status": "running", "attempt", "leaseUntil", "statusUrl"}\`; the same \`jobId\` again → **200** with its status.
**GET /webhook/ai/jobs/<jobId>** → \`{"status": "running | queued | done | failed | rejected_stale | human", "attempt", "leaseUntil", "result", "error"}\` or **404**.

Every job is a row in the **Job Queue** with its state, attempt and a ${LEASE_SECONDS / 60}-minute lease. If n8n or a worker dies mid-job, **Claim due jobs** (every minute) finds the lease ran out and runs it again (attempt 2, 3); the first outcome is recorded, once. A job that keeps failing goes to a person after 3 attempts. Callbacks carry \`Idempotency-Key: <jobId>:<attempt>\`: a re-sent callback has the same key.`,
	[0, -0.4],
	720,
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. Pick your **AI Service** credential, model and prompt in **Summarize (AI Call)**, and its **Shared Limit** (60 a minute, 5 at once for all executions and workers; a call with no room within 60 s is retried later); the freshness limits in **Is the data fresh?**.
2. **Store** is Auto in the five Job Queue nodes: n8n's own Redis in queue mode, else the Local File, or what \`N8N_AI_PATTERNS_STORE\` sets. Change all five or none.
3. Keep the lease (**Submit job**) longer than a run can take: a run still going when it ends is run a second time.
4. **Hand to a person** posts to the simulator's inbox: point it at your ticket system.
5. Set **Authentication** (e.g. Header Auth) on both webhooks before exposing them; allow-list the callback hosts in **Has callback?** and sign the body.
6. Callback receivers: treat a repeated \`Idempotency-Key\` as already handled.`,
	[4.9, -0.4],
	624,
);

const jobQueue = (name, operation, params, pos) =>
	w.node(name, T.jobQueue, { operation, queue: QUEUE, ...params }, pos);

// POST: submit the job (claimed for this execution), answer 202, then work.
const post = webhook('POST', 'ai/jobs');
w.node('POST /ai/jobs', T.webhook, post.params, [0, 0], post.extra);
w.node(
	'Check job',
	T.completenessCheck,
	{ rules: { rule: [{ path: 'body.text', check: 'notEmpty', name: 'text given' }] } },
	[1, 0],
);
jobQueue(
	'Submit job',
	'submit',
	{
		jobId: '={{ $json.body.jobId ?? "" }}',
		data: '={{ { text: $json.body.text, asOf: $json.body.asOf ?? "", callbackUrl: $json.body.callbackUrl ?? "" } }}',
		leaseSeconds: LEASE_SECONDS,
		maxAttempts: 3,
	},
	[2, 0],
);
const status =
	'jobId: $json.job.id, status: $json.job.status, attempt: $json.job.attempt, leaseUntil: $json.job.leaseUntil, statusUrl: "/webhook/ai/jobs/" + $json.job.id';
w.node('Respond 202', T.respond, respond(202, `={{ { ${status} } }}`), [3, 0]);
w.node('Respond existing', T.respond, respond(200, `={{ { ${status} } }}`), [3, 1]);
w.node(
	'Respond 400',
	T.respond,
	respond(
		400,
		'={{ { error: "invalid_job", problems: $json.job?.reason ? [$json.job.reason] : $json.completeness.failed } }}',
	),
	[3, 2],
);

// The work: the same for a new job and for one the sweeper runs again.
w.node(
	'Is the data fresh?',
	T.freshnessCheck,
	{
		source: 'expression',
		value: '={{ $json.data.asOf || $json.job.createdAt }}',
		warnAfter: 1,
		warnAfterUnit: 'day',
		errorAfter: 7,
		errorAfterUnit: 'day',
	},
	[4, 0],
);
w.node(
	'Summarize (AI Call)',
	T.aiCall,
	{
		model: { __rl: true, mode: 'id', value: 'sim-standard' },
		systemPrompt: 'Summarize the text for a case worker in three sentences.',
		userPrompt: '={{ $json.data.text }}',
		timeoutPreset: 'batch',
		// every execution and worker together: 60 calls a minute, 5 at once (backpressure for a burst)
		sharedLimit: true,
		sharedLimitName: 'ai-service',
		sharedRequestsPerMinute: 60,
		sharedMaxInFlight: 5,
		sharedMaxWaitSeconds: 60,
		options: { maxRetries: 3 },
	},
	[5, 0],
	{ credentials: AI_CREDENTIAL },
);
w.node(
	'Transient?',
	T.if,
	condition(F, 'Transient?', '={{ $json.error.retryable }}', 'true', 'boolean'),
	[6, 1],
);
jobQueue('Record done', 'complete', { outcome: 'done', result: '={{ $json.ai.text }}' }, [7, 0]);
jobQueue(
	'Retry later',
	'retryLater',
	{
		// turned away by the shared limit: back when it says, without using an attempt
		delaySeconds:
			'={{ $json.error.sharedLimit ? Math.min(Math.ceil($json.error.retryAfterMs / 1000), 300) : 30 }}',
		countAttempt: '={{ !$json.error.sharedLimit }}',
		error: '={{ $json.error.class + ": " + $json.error.message }}',
	},
	[7, 1],
);
// A stale job and an AI failure that will not pass end the same way, with their own status.
jobQueue(
	'Record failure',
	'complete',
	{
		outcome: '={{ $json.freshness.status === "stale" ? "rejected_stale" : "failed" }}',
		error:
			'={{ $json.freshness.status === "stale" ? "stale data: " + $json.freshness.reason + ($json.freshness.age ? " (age " + $json.freshness.age + ")" : "") : $json.error.class + ": " + $json.error.message }}',
	},
	[7, 2],
);
w.node('Wait for the sweeper', T.noOp, {}, [8, 0.2]);
w.node('Recorded by another run', T.noOp, {}, [8.5, 1.4]);

// Delivery: callback (at least once, same key every time), then acknowledge.
w.node(
	'Has callback?',
	T.if,
	condition(F, 'Has callback?', '={{ $json.data.callbackUrl }}', 'notEmpty'),
	[8, 3.2],
);
w.node(
	'Notify callback',
	T.httpRequest,
	{
		method: 'POST',
		url: '={{ $json.data.callbackUrl }}',
		sendHeaders: true,
		headerParameters: {
			parameters: [{ name: 'Idempotency-Key', value: '={{ $json.job.deliveryKey }}' }],
		},
		sendBody: true,
		specifyBody: 'json',
		jsonBody:
			'={{ JSON.stringify({ jobId: $json.job.id, status: $json.job.status, result: $json.job.result, error: $json.job.error, attempt: $json.job.finishedAttempt }) }}',
		options: { timeout: 10000, redirect: { redirect: { followRedirects: false } } },
	},
	[9, 2.6],
	// A receiver that stays down: not acknowledged, so the sweeper sends it again after the lease.
	{ onError: 'continueErrorOutput', retryOnFail: true, maxTries: 3, waitBetweenTries: 2000 },
);
// The callback's item is its response: the job comes from before it.
jobQueue(
	'Acknowledge',
	'acknowledge',
	{ jobId: '={{ $("Has callback?").item.json.job.id }}' },
	[10, 3.2],
);
w.node('Callback failed', T.noOp, {}, [10, 4.4]);
w.node('Job finished', T.noOp, {}, [11, 4]);

// Sweeper: jobs whose lease ran out (n8n or a worker died, or a retry is due).
w.node(
	'Every minute',
	T.schedule,
	{ rule: { interval: [{ field: 'minutes', minutesInterval: 1 }] } },
	[2, 3.2],
);
jobQueue('Claim due jobs', 'claimDue', { maxJobs: 100 }, [3, 3.2]);
w.node(
	'Hand to a person',
	T.httpRequest,
	{
		method: 'POST',
		url: `${SIM}/_sim/inbox/people`,
		sendBody: true,
		specifyBody: 'json',
		jsonBody:
			'={{ JSON.stringify({ jobId: $json.job.id, status: $json.job.status, reason: $json.job.reason, error: $json.job.error, data: $json.data }) }}',
		options: { timeout: 10000 },
	},
	[7, 4.4],
	// the job is already marked human; a ticket system that is down must not stop the sweep
	{ onError: 'continueRegularOutput', retryOnFail: true, maxTries: 3, waitBetweenTries: 2000 },
);

// GET: the job's status, attempt, lease and outcome.
const get = webhook('GET', 'jobs/:id', { webhookId: 'ai' });
w.node('GET /ai/jobs/:id', T.webhook, get.params, [0, 5], get.extra);
jobQueue('Find job', 'get', { jobId: '={{ $json.params.id }}' }, [1, 5]);
w.node(
	'Respond 200',
	T.respond,
	respond(
		200,
		'={{ { jobId: $json.job.id, status: $json.job.status, attempt: $json.job.attempt, maxAttempts: $json.job.maxAttempts, leaseUntil: $json.job.leaseUntil, result: $json.job.result, error: $json.job.error, submittedAt: $json.job.createdAt, updatedAt: $json.job.updatedAt, finishedAt: $json.job.finishedAt } }}',
	),
	[2, 4.5],
);
w.node(
	'Respond 404',
	T.respond,
	respond(404, '={{ { error: "not_found", jobId: $json.job.id, reason: $json.job.reason } }}'),
	[2, 5.5],
);

w.connect('POST /ai/jobs', 'Check job');
w.connect('Check job', 'Submit job', 0);
w.connect('Check job', 'Respond 400', 1);
w.connect('Submit job', 'Respond 202', 0); // New
w.connect('Submit job', 'Respond existing', 1); // Existing
w.connect('Submit job', 'Respond 400', 2); // Invalid
w.connect('Respond 202', 'Is the data fresh?');
w.connect('Is the data fresh?', 'Summarize (AI Call)', 0); // Fresh
w.connect('Is the data fresh?', 'Summarize (AI Call)', 1); // Warn: still usable
w.connect('Is the data fresh?', 'Record failure', 2);
w.connect('Summarize (AI Call)', 'Record done', 0);
w.connect('Summarize (AI Call)', 'Transient?', 1);
w.connect('Transient?', 'Retry later', 0);
w.connect('Transient?', 'Record failure', 1);
w.connect('Retry later', 'Wait for the sweeper', 0);
w.connect('Retry later', 'Wait for the sweeper', 1); // finished meanwhile by another run
for (const m of ['Record done', 'Record failure']) {
	w.connect(m, 'Has callback?', 0);
	w.connect(m, 'Recorded by another run', 1);
}
w.connect('Has callback?', 'Notify callback', 0);
w.connect('Has callback?', 'Acknowledge', 1);
w.connect('Notify callback', 'Acknowledge', 0);
w.connect('Notify callback', 'Callback failed', 1);
w.connect('Acknowledge', 'Job finished', 0);
w.connect('Acknowledge', 'Job finished', 1);
w.connect('Every minute', 'Claim due jobs');
w.connect('Claim due jobs', 'Is the data fresh?', 0); // Run
w.connect('Claim due jobs', 'Has callback?', 1); // Deliver
// To a Person: the ticket and the callback side by side (the HTTP Request's item would be its response)
w.connect('Claim due jobs', 'Hand to a person', 2);
w.connect('Claim due jobs', 'Has callback?', 2);
w.connect('GET /ai/jobs/:id', 'Find job');
w.connect('Find job', 'Respond 200', 0);
w.connect('Find job', 'Respond 404', 1);

module.exports = w;
