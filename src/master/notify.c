#include <config.h>

#include <dlfcn.h>
#include <stdlib.h>

#include "common/log.h"
#include "master/notify.h"

/* The soname of Debian's libsystemd0. */
#define NOTIFY_SONAME	"libsystemd.so.0"

static int (*notify_fn)(int, const char *);

int
notify_init(void)
{
#ifdef HAVE_SYSTEMD
	const char *sock = getenv("NOTIFY_SOCKET");
	void *lib, *f;

	if (sock == NULL || sock[0] == '\0' || notify_fn != NULL)
		return 0;
	/* Never unloaded: it is called until the process exits. */
	if ((lib = dlopen(NOTIFY_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		log_warnx("NOTIFY_SOCKET is set but %s (Debian package "
		    "libsystemd0) cannot be loaded: %s; the service manager will "
		    "not hear that nymd is ready", NOTIFY_SONAME, dlerror());
		return -1;
	}
	if ((f = dlsym(lib, "sd_notify")) == NULL) {
		log_warnx("%s has no sd_notify; the service manager will not "
		    "hear that nymd is ready", NOTIFY_SONAME);
		dlclose(lib);
		return -1;
	}
	/* POSIX: a function pointer may be stored through void *. */
	*(void **)&notify_fn = f;
#endif
	return 0;
}

void
notify_state(const char *state)
{
	if (notify_fn != NULL)
		(void)notify_fn(0, state);
}
