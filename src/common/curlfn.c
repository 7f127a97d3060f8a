#include <config.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "common/curlfn.h"

/* The soname of Debian's libcurl4 (the OpenSSL flavour the build used). */
#define CURLFN_SONAME	"libcurl.so.4"

struct curlfn curlfn;
static int curlfn_loaded;

struct curlfn_sym {
	const char	*name;
	void		**slot;
};

int
curlfn_load(char *err, size_t errlen)
{
	const struct curlfn_sym syms[] = {
		{ "curl_global_init", (void **)&curlfn.global_init },
		{ "curl_global_cleanup", (void **)&curlfn.global_cleanup },
		{ "curl_easy_init", (void **)&curlfn.easy_init },
		{ "curl_easy_cleanup", (void **)&curlfn.easy_cleanup },
		{ "curl_easy_setopt", (void **)&curlfn.easy_setopt },
		{ "curl_easy_getinfo", (void **)&curlfn.easy_getinfo },
		{ "curl_easy_perform", (void **)&curlfn.easy_perform },
		{ "curl_easy_strerror", (void **)&curlfn.easy_strerror },
		{ "curl_multi_init", (void **)&curlfn.multi_init },
		{ "curl_multi_cleanup", (void **)&curlfn.multi_cleanup },
		{ "curl_multi_add_handle", (void **)&curlfn.multi_add_handle },
		{ "curl_multi_remove_handle", (void **)&curlfn.multi_remove_handle },
		{ "curl_multi_setopt", (void **)&curlfn.multi_setopt },
		{ "curl_multi_assign", (void **)&curlfn.multi_assign },
		{ "curl_multi_socket_action", (void **)&curlfn.multi_socket_action },
		{ "curl_multi_info_read", (void **)&curlfn.multi_info_read },
		{ "curl_slist_append", (void **)&curlfn.slist_append },
		{ "curl_slist_free_all", (void **)&curlfn.slist_free_all },
	};
	void *lib;

	if (curlfn_loaded)
		return 0;
	/* Never unloaded: libcurl keeps global state until exit. */
	if ((lib = dlopen(CURLFN_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "cannot load %s (Debian package libcurl4): %s",
		    CURLFN_SONAME, dlerror());
		return -1;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		/* POSIX: a function pointer may be stored through void *. */
		void *f = dlsym(lib, syms[i].name);
		if (f == NULL) {
			snprintf(err, errlen, "%s has no %s", CURLFN_SONAME, syms[i].name);
			memset(&curlfn, 0, sizeof(curlfn));
			return -1;
		}
		*syms[i].slot = f;
	}
	curlfn_loaded = 1;
	return 0;
}
