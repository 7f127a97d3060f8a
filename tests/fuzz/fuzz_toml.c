/*
 * Fuzz target for the TOML parser and the configuration mapping on top of
 * it.  Besides "no crash, no leak", it checks one property: a config that
 * loads, written back by config_format() (what `nymd init` writes), loads
 * again to the same values.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/toml.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_sink;

static void
walk(const struct toml_doc *doc)
{
	const struct toml_table *t;
	const struct toml_kv *kv;

	for (size_t i = 0; i < doc->ntables; i++) {
		t = &doc->tables[i];
		fuzz_sink += strlen(t->name) + t->line;
		for (size_t k = 0; k < t->nkvs; k++) {
			kv = &t->kvs[k];
			fuzz_sink += strlen(kv->key) + kv->value_len;
			if (kv->type == TOML_STRING)
				fuzz_sink += strlen(kv->u.s);
			if (toml_find_key(t, kv->key) != kv)
				abort();
		}
	}
}

static bool
same_config(const struct nymd_config *a, const struct nymd_config *b)
{
	return strcmp(a->id, b->id) == 0 &&
	    strcmp(a->directory_server_topology,
	    b->directory_server_topology) == 0 &&
	    strcmp(a->priv_key_file, b->priv_key_file) == 0 &&
	    strcmp(a->pub_key_file, b->pub_key_file) == 0 &&
	    strcmp(a->provider_id, b->provider_id) == 0 &&
	    strcmp(a->mixapps_directory, b->mixapps_directory) == 0 &&
	    strcmp(a->loopix_home_directory, b->loopix_home_directory) == 0 &&
	    a->log_disable == b->log_disable &&
	    strcmp(a->log_file, b->log_file) == 0 &&
	    a->log_level == b->log_level &&
	    a->loop_cover_traffic_rate == b->loop_cover_traffic_rate &&
	    a->fetch_message_rate == b->fetch_message_rate &&
	    a->message_sending_rate == b->message_sending_rate &&
	    a->rate_compliant_cover_messages_disabled ==
	    b->rate_compliant_cover_messages_disabled &&
	    strcmp(a->user, b->user) == 0 &&
	    strcmp(a->socket_path, b->socket_path) == 0 &&
	    a->socket_mode == b->socket_mode &&
	    strcmp(a->listen_address, b->listen_address) == 0 &&
	    a->average_delay_ms == b->average_delay_ms &&
	    a->topology_refresh_seconds == b->topology_refresh_seconds &&
	    a->max_restarts == b->max_restarts &&
	    a->restart_window_seconds == b->restart_window_seconds &&
	    a->duplicate_window_seconds == b->duplicate_window_seconds &&
	    a->reply_surb_lifetime_seconds == b->reply_surb_lifetime_seconds &&
	    a->max_message_bytes == b->max_message_bytes &&
	    a->message_expiry_seconds == b->message_expiry_seconds;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nymd_config cfg, back;
	struct toml_error err;
	struct toml_doc *doc;
	char msg[512], *text;
	size_t len;

	if (toml_parse((const char *)data, size, &doc, &err) == TOML_OK) {
		walk(doc);
		toml_free(doc);
	} else {
		toml_error_format(&err, "fuzz", msg, sizeof(msg));
		fuzz_sink += strlen(msg);
	}

	if (config_load_buffer((const char *)data, size, "fuzz", "/fuzz/root",
	    &cfg, msg, sizeof(msg)) != CONFIG_OK)
		return 0;
	if (config_format(&cfg, &text, &len) != CONFIG_OK)
		abort();
	if (config_load_buffer(text, len, "fuzz", "/other/root", &back, msg,
	    sizeof(msg)) != CONFIG_OK || !same_config(&cfg, &back))
		abort();
	free(text);
	return 0;
}
