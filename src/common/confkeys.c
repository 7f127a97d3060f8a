#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/confkeys.h"

static const char *
confkey_expects(const struct confkey *k)
{
	if (k->expects != NULL)
		return k->expects;
	switch (k->type) {
	case CONFKEY_BOOL:
		return "a boolean (true or false)";
	case CONFKEY_INT:
		return "an integer";
	case CONFKEY_NUMBER:
		return "a number";
	default:
		return "a string";
	}
}

static bool
confkey_accepts(const struct confkey *k, enum toml_type type)
{
	switch (k->type) {
	case CONFKEY_BOOL:
		return type == TOML_BOOLEAN;
	case CONFKEY_INT:
		return type == TOML_INTEGER;
	case CONFKEY_NUMBER:
		/* "rate = 10" means 10.0 to anyone reading the file */
		return type == TOML_FLOAT || type == TOML_INTEGER;
	default:
		return type == TOML_STRING;
	}
}

static int __attribute__((format(printf, 4, 5)))
confkeys_fail_at(const struct confkeys_ctx *ctx, unsigned long line,
    const char *key, const char *fmt, ...)
{
	char msg[CONFKEYS_MSG_BYTES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->schema->fail(ctx->fail_arg, line, key, msg);
	return -1;
}

int
confkeys_fail(const struct confkeys_ctx *ctx, const struct toml_kv *kv,
    const char *fmt, ...)
{
	char msg[CONFKEYS_MSG_BYTES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->schema->fail(ctx->fail_arg, kv->line, kv->key, msg);
	return -1;
}

static bool
confkey_in_role(const struct confkeys_ctx *ctx, const struct confkey *k)
{
	return (k->roles & ctx->role) != 0;
}

long
confkeys_index(const struct confkeys_ctx *ctx, const char *table,
    const char *name)
{
	for (size_t i = 0; i < ctx->schema->nkeys; i++) {
		const struct confkey *k = &ctx->schema->keys[i];
		if (confkey_in_role(ctx, k) && strcmp(k->table, table) == 0 &&
		    strcmp(k->name, name) == 0)
			return (long)i;
	}
	return -1;
}

static bool
confkeys_table_known(const struct confkeys_ctx *ctx, const char *table)
{
	for (size_t i = 0; i < ctx->schema->nkeys; i++)
		if (confkey_in_role(ctx, &ctx->schema->keys[i]) &&
		    strcmp(ctx->schema->keys[i].table, table) == 0)
			return true;
	return false;
}

static int
confkeys_apply_int(const struct confkeys_ctx *ctx, const struct confkey *k,
    const struct toml_kv *kv)
{
	char *field = (char *)ctx->obj + k->offset;

	if (kv->u.i < k->min || kv->u.i > k->max)
		return confkeys_fail(ctx, kv, "must be %s %lld %s %lld",
		    ctx->schema->range_from, (long long)k->min,
		    ctx->schema->range_to, (long long)k->max);
	if (k->size == sizeof(uint64_t))
		*(uint64_t *)(void *)field = (uint64_t)kv->u.i;
	else
		*(unsigned *)(void *)field = (unsigned)kv->u.i;
	return 0;
}

static int
confkeys_apply_key(const struct confkeys_ctx *ctx, const struct confkey *k,
    const struct toml_kv *kv)
{
	if (!confkey_accepts(k, kv->type))
		return confkeys_fail(ctx, kv, "expected %s, got %s",
		    confkey_expects(k), toml_type_name(kv->type));
	switch (k->type) {
	case CONFKEY_BOOL:
		*(bool *)(void *)((char *)ctx->obj + k->offset) = kv->u.b;
		return 0;
	case CONFKEY_INT:
		return confkeys_apply_int(ctx, k, kv);
	case CONFKEY_STRING:
		for (const char *c = kv->u.s; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return confkeys_fail(ctx, kv, "%s",
				    ctx->schema->control_msg);
		break;
	case CONFKEY_NUMBER:
		break;
	}
	return ctx->schema->set(ctx, k, kv);
}

static int
confkeys_apply_table(const struct confkeys_ctx *ctx, const struct toml_table *t)
{
	if (!confkeys_table_known(ctx, t->name))
		return confkeys_fail_at(ctx, t->line, NULL, "unknown table [%s]%s",
		    t->name, ctx->schema->unknown_table_hint);
	for (size_t j = 0; j < t->nkvs; j++) {
		const struct toml_kv *kv = &t->kvs[j];
		long i = confkeys_index(ctx, t->name, kv->key);
		if (i == -1)
			return confkeys_fail(ctx, kv, "unknown key in [%s]",
			    t->name);
		if (confkeys_apply_key(ctx, &ctx->schema->keys[i], kv) == -1)
			return -1;
		if (ctx->lines != NULL)
			ctx->lines[i] = kv->line;
	}
	return 0;
}

int
confkeys_apply(const struct confkeys_ctx *ctx, const struct toml_doc *doc)
{
	const struct toml_table *root = &doc->tables[0];

	if (ctx->lines != NULL)
		memset(ctx->lines, 0, ctx->schema->nkeys * sizeof(*ctx->lines));
	if (root->nkvs > 0)
		return confkeys_fail(ctx, &root->kvs[0], "%s", ctx->schema->root_msg);
	for (size_t i = 1; i < doc->ntables; i++)
		if (confkeys_apply_table(ctx, &doc->tables[i]) == -1)
			return -1;
	return 0;
}
