import type { ICredentialType } from 'n8n-workflow';

/** n8n's built-in credentials (n8n-nodes-base Redis/Postgres.credentials), the fields the node reads. */
export class Redis implements ICredentialType {
	name = 'redis';
	displayName = 'Redis';
	properties: ICredentialType['properties'] = [
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
		},
		{ displayName: 'User', name: 'user', type: 'string', default: '' },
		{ displayName: 'Host', name: 'host', type: 'string', default: 'localhost' },
		{ displayName: 'Port', name: 'port', type: 'number', default: 6379 },
		{ displayName: 'Database Number', name: 'database', type: 'number', default: 0 },
		{ displayName: 'SSL', name: 'ssl', type: 'boolean', default: false },
	];
}
export class Postgres implements ICredentialType {
	name = 'postgres';
	displayName = 'Postgres';
	properties: ICredentialType['properties'] = [
		{ displayName: 'Host', name: 'host', type: 'string', default: 'localhost' },
		{ displayName: 'Database', name: 'database', type: 'string', default: 'postgres' },
		{ displayName: 'User', name: 'user', type: 'string', default: 'postgres' },
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
		},
		{
			displayName: 'Maximum Number of Connections',
			name: 'maxConnections',
			type: 'number',
			default: 100,
		},
		{
			displayName: 'Ignore SSL Issues (Insecure)',
			name: 'allowUnauthorizedCerts',
			type: 'boolean',
			default: false,
		},
		{ displayName: 'SSL', name: 'ssl', type: 'string', default: 'disable' },
		{ displayName: 'Port', name: 'port', type: 'number', default: 5432 },
	];
}
