/** Turning what the user entered into a request: messages and the JSON Schema check. */
import Ajv from 'ajv';
import { z } from 'zod/v4';

import type { ChatMessage } from './wire';

const messagesSchema = z
	.array(
		z.object({
			role: z.enum(['system', 'user', 'assistant']),
			content: z.union([z.string(), z.number(), z.boolean()]).transform(String),
		}),
	)
	.min(1, 'needs at least one message');

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<string, (value: unknown) => string | undefined>();

export function schemaValidator(schema: unknown): {
	schema: Record<string, unknown>;
	validate: (value: unknown) => string | undefined;
} {
	let parsed = schema;
	if (typeof schema === 'string') {
		try {
			parsed = JSON.parse(schema);
		} catch (error) {
			throw new Error(`"JSON Schema" is not valid JSON: ${(error as Error).message}`);
		}
	}
	if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
		throw new Error('"JSON Schema" must be a JSON object');
	}
	const key = JSON.stringify(parsed);
	let validate = validators.get(key);
	if (!validate) {
		let compiled: ReturnType<typeof ajv.compile>;
		try {
			compiled = ajv.compile(parsed);
		} catch (error) {
			throw new Error(`"JSON Schema" is not a valid schema: ${(error as Error).message}`);
		}
		validate = (value) =>
			compiled(value)
				? undefined
				: `not matching the JSON Schema (${ajv.errorsText(compiled.errors, { separator: '; ' })})`;
		validators.set(key, validate);
	}
	return { schema: parsed as Record<string, unknown>, validate };
}

/** A messages array (JSON text or a value from an expression), checked; throws naming the entry. */
export function parseMessages(raw: unknown): ChatMessage[] {
	let value = raw;
	if (typeof raw === 'string') {
		try {
			value = JSON.parse(raw);
		} catch (error) {
			throw new Error(`"Messages" is not valid JSON: ${(error as Error).message}`);
		}
	}
	const parsed = messagesSchema.safeParse(value);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new Error(
			`"Messages"${issue.path.length ? ` at ${issue.path.join('.')}` : ''}: ${issue.message}. Expected [{"role": "user", "content": "…"}] with roles system, user or assistant`,
		);
	}
	return parsed.data as ChatMessage[];
}
