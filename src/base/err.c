/* SPDX-License-Identifier: BSD-2-Clause */
#include "err.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char msg_buf[ERR_MSG_MAX];

const char *err_str(int code)
{
	switch (-code) {
	case DV_ECORRUPT: return "data is corrupt";
	case DV_EBADKEY: return "wrong password or data tampered with";
	case DV_ENOTFOUND: return "not found";
	case DV_EFORMAT: return "unsupported format";
	case DV_EAMBIG: return "ambiguous id prefix";
	case DV_EUSAGE: return "invalid usage";
	default: return strerror(-code);
	}
}

int err_set(int code, const char *fmt, ...)
{
	/* formatted apart first: an argument may be err_msg() itself */
	char tmp[sizeof(msg_buf)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(msg_buf, tmp, sizeof(tmp));
	return code;
}

int err_sys(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg_buf, sizeof(msg_buf), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(msg_buf))
		snprintf(msg_buf + n, sizeof(msg_buf) - (size_t)n, ": %s", err_str(code));
	return code;
}

const char *err_msg(int code)
{
	if (msg_buf[0])
		return msg_buf;
	return err_str(code);
}

void err_clear(void)
{
	msg_buf[0] = 0;
}

void err_save(err_saved *out)
{
	memcpy(out->msg, msg_buf, sizeof(msg_buf));
}

void err_restore(const err_saved *in)
{
	memcpy(msg_buf, in->msg, sizeof(msg_buf));
}
