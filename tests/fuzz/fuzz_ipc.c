/*
 * Fuzz target: ipc_frame_parse() on arbitrary bytes and, as the channel
 * does, nymipc__ipc__unpack() of a complete frame's body (or of the whole
 * input), then the contract's check (ipc_check) against a table that
 * takes every type, and the typed topology's reader (topology_from_ipc),
 * which keyd and rpcd run on what netd sends; what unpacks is packed
 * again and must unpack again.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "common/topology_ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static void
fuzz_handler(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
}

static void
fuzz_contract(const Nymipc__Ipc *msg)
{
	static struct ipc_dispatch every;
	char why[128];

	for (size_t t = 1; t <= IPC_TYPE_LAST; t++)
		every.handlers[t] = fuzz_handler;
	if (ipc_check(&every, msg, why, sizeof(why)) == -1) {
		CHECK(why[0] != '\0');
		return;
	}
	CHECK(msg->type > 0 && msg->type <= IPC_TYPE_LAST);
	if (msg->body_case == NYMIPC__IPC__BODY_TOPOLOGY) {
		struct topology *t;
		if (topology_from_ipc(msg->topology, &t, why, sizeof(why)) == 0) {
			CHECK(t->n_mixnodes == msg->topology->n_mixnodes);
			topology_free(t);
		}
	}
}

static void
fuzz_unpack(const uint8_t *body, size_t len)
{
	Nymipc__Ipc *msg = nymipc__ipc__unpack(NULL, len, body);

	if (msg == NULL)
		return;
	CHECK(ipc_type_name(msg->type) != NULL);
	fuzz_contract(msg);
	size_t plen = nymipc__ipc__get_packed_size(msg);
	uint8_t *buf = malloc(plen ? plen : 1);
	CHECK(buf != NULL);
	CHECK(nymipc__ipc__pack(msg, buf) == plen);
	/*
	 * A repacked message need not unpack again: protobuf-c keeps an
	 * over-long key for field 0 (80 00), at any depth, as an unknown field
	 * and packs it back as 00, which it then refuses. That library quirk
	 * does not concern ipc.c, which never repacks a received message.
	 */
	Nymipc__Ipc *again = nymipc__ipc__unpack(NULL, plen, buf);
	if (again != NULL) {
		CHECK(again->type == msg->type && again->seq == msg->seq);
		nymipc__ipc__free_unpacked(again, NULL);
	}
	free(buf);
	nymipc__ipc__free_unpacked(msg, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t msg_len = 0;
	int r = ipc_frame_parse(data, size, &msg_len);

	CHECK(r == -1 || r == 0 || r == 1);
	if (r == 1) {
		CHECK(msg_len <= IPC_MAX_FRAME_BYTES && IPC_HEADER_BYTES + msg_len <= size);
		fuzz_unpack(data + IPC_HEADER_BYTES, msg_len);
	}
	if (r == -1)
		CHECK(size >= IPC_HEADER_BYTES);
	fuzz_unpack(data, size);
	return 0;
}
