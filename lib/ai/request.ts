/** Turning what the user entered into a request: messages and the JSON Schema check. */
import { z } from 'zod/v4';

import { compileJsonSchema } from '../jsonSchema';
import type { ChatMessage } from './wire';

const messagesSchema = z
	.array(
		z.object({
			role: z.enum(['system', 'user', 'assistant']),
			content: z.union([z.string(), z.number(), z.boolean()]).transform(String),
		}),
	)
	.min(1, 'needs at least one message');

/** The schema as an object and a validator from the package's one JSON Schema owner (draft by `$schema`, strict). */
export function schemaValidator(schema: unknown): {
	schema: Record<string, unknown>;
	validate: (value: unknown) => string | undefined;
} {
	const check = compileJsonSchema(schema, 'JSON Schema');
	const parsed = (typeof schema === 'string' ? JSON.parse(schema) : schema) as Record<
		string,
		unknown
	>;
	const validate = (value: unknown) => {
		const errors = check(value);
		if (!errors) return undefined;
		const text = errors
			.slice(0, 20)
			.map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`)
			.join('; ');
		return `not matching the JSON Schema (${text}${errors.length > 20 ? `; and ${errors.length - 20} more` : ''})`;
	};
	return { schema: parsed, validate };
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
