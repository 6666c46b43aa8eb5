'use strict';
const { T, SIM, RABBITMQ_CREDENTIAL, Workflow, condition } = require('./builder');

const PACKAGE = require('../../package.json').name;
const QUEUE_DEPTH_CHECK = [`${PACKAGE}.queueDepthCheck`, 1];
// The queues of the two async samples: the RabbitMQ one is named in its trigger, once.
const RABBIT_QUEUE = require('./async-queue-rabbitmq').nodes.find((n) => n.name === 'Job queue')
	.parameters.queue;
const JOB_QUEUE = require('./async-queue').nodes.find((n) => n.name === 'Submit job').parameters
	.queue;

const w = new Workflow('queue-monitor', 'AI patterns: queue monitor');
const F = w.file;
const ALERT_URL = `${SIM}/_sim/inbox/alerts`;

w.note(
	'About',
	`## Queue monitor
A queue that backs up is the first sign of an AI quota, a stuck worker or a stopped sweeper. Every minute this checks the RabbitMQ queue **${RABBIT_QUEUE}** of the RabbitMQ sample and the Job Queue **${JOB_QUEUE}** of the async sample: depth, age of the oldest job, growth over the last 5 checks.

It **alerts once per change of state** (Normal, Warn, Critical, or unknown when the queue cannot be read), and on recovery; not every minute. By default it alerts to the simulator's inbox (\`${ALERT_URL}\`).`,
	[0, -0.75],
	592,
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. Pick your **RabbitMQ** credential in **RabbitMQ queue depth**, and set its **Queue Name** to your queue. AMQP gives ready messages and consumers; for unacknowledged messages and the oldest message's age choose **Management HTTP API** (plugin rabbitmq_management; publishers must set the message timestamp).
2. In **Job Queue depth** use the **Store** and **Queue Name** of your Job Queue nodes.
3. For n8n's own queue in queue mode add a check with **Queue: n8n's Own Queue** (Store Auto reads this n8n's queue Redis).
4. Set the thresholds to your traffic; **Remind Every** repeats an alert while a queue stays bad.
5. Point **Send alert** at your alert webhook (Slack, Teams, PagerDuty).`,
	[3.2, -0.75],
	576,
);

w.node(
	'Every minute',
	T.schedule,
	{ rule: { interval: [{ field: 'minutes', minutesInterval: 1 }] } },
	[0, 0.5],
);
w.node(
	'RabbitMQ queue depth',
	QUEUE_DEPTH_CHECK,
	{
		source: 'rabbitmq',
		queue: RABBIT_QUEUE,
		warnDepth: 100,
		criticalDepth: 1000,
		warnGrowth: 50,
		criticalGrowth: 200,
	},
	[1, 0],
	{ credentials: RABBITMQ_CREDENTIAL },
);
w.node(
	'Job Queue depth',
	QUEUE_DEPTH_CHECK,
	{
		source: 'jobQueue',
		jobQueue: JOB_QUEUE,
		warnDepth: 50,
		criticalDepth: 500,
		warnAge: 3,
		criticalAge: 10,
		warnGrowth: 25,
		criticalGrowth: 100,
	},
	[1, 1],
);
w.node(
	'State changed?',
	T.if,
	condition(F, 'State changed?', '={{ $json.queueDepth.alert }}', 'true', 'boolean'),
	[2.2, 0.5],
);
w.node(
	'Send alert',
	T.httpRequest,
	{
		method: 'POST',
		url: ALERT_URL,
		sendBody: true,
		specifyBody: 'json',
		jsonBody: `={{ JSON.stringify({
  text: $json.queueDepth.reminder
    ? 'Still ' + $json.queueDepth.status + ': ' + $json.queueDepth.message
    : ($json.queueDepth.previousStatus ?? 'new') + ' → ' + $json.queueDepth.status + ': ' + $json.queueDepth.message,
  source: $json.queueDepth.source,
  queue: $json.queueDepth.queue,
  status: $json.queueDepth.status,
  previousStatus: $json.queueDepth.previousStatus,
  reason: $json.queueDepth.reason,
  reminder: $json.queueDepth.reminder,
  depth: $json.queueDepth.depth,
  inProgress: $json.queueDepth.inProgress,
  oldestAge: $json.queueDepth.oldestAge,
  growth: $json.queueDepth.growth,
  checkedAt: $json.queueDepth.checkedAt
}) }}`,
		options: { timeout: 10000 },
	},
	[3.4, 0.5],
);

for (const check of ['RabbitMQ queue depth', 'Job Queue depth']) {
	w.connect('Every minute', check);
	for (const output of [0, 1, 2]) w.connect(check, 'State changed?', output);
}
w.connect('State changed?', 'Send alert', 0);

module.exports = w;
