/*
 * The websocket's text messages: the protobuf JSON mapping of the socket
 * API's Request and Response (proto/types.proto) in the exact text Go's
 * jsonpb wrote for the seed (indented by two spaces). Names are the
 * json_name (lowerCamelCase: id, pubKey, ...); on input the original field
 * names (Id, PubKey, ...) are accepted too. bytes are standard base64
 * (URL-safe and unpadded are accepted on input), uint64 a decimal string
 * (a JSON number is accepted on input), and fields holding their default
 * value are omitted, except the lists of fetch and clients. As jsonpb, a
 * request member that is null still names its request, and only the first
 * JSON value of a message is read.
 */
#ifndef NYMD_RPCD_WSJSON_H
#define NYMD_RPCD_WSJSON_H

#include <stddef.h>
#include <stdint.h>

enum wsjson_status {
	WSJSON_OK = 0,
	WSJSON_ERR_NOMEM = -1,
	WSJSON_ERR_INVALID = -2,	/* the input is wrong; see err */
};

/* An error text always fits in this many bytes. */
#define WSJSON_ERROR_BYTES	256

/*
 * Converts a JSON Request to a packed types.Request (malloc'd in *out).
 * On WSJSON_ERR_INVALID, err holds printable ASCII text saying what was
 * wrong (malformed JSON, unknown request, invalid base64, ...).
 */
int	wsjson_request(const char *json, size_t len, uint8_t **out,
	    size_t *out_len, char *err, size_t err_cap);
/*
 * Converts a packed types.Response to its JSON text (malloc'd, NUL
 * terminated, *out_len without the NUL). WSJSON_ERR_INVALID when pb is
 * not a Response or holds a string that is not UTF-8.
 */
int	wsjson_response(const uint8_t *pb, size_t len, char **out,
	    size_t *out_len);

#endif
