/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MESSAGE_ID of each kind of record sysbrokerd writes to the journal (`journalctl MESSAGE_ID=…`), each
 * explained in sysbroker.catalog (`journalctl -x`). Fixed for good: admins' filters and alerts name them. A
 * new kind gets a new id (`systemd-id128 new`) and a catalog entry; the unit suite's catalog lint checks
 * that every id here is in the catalog, and every id of the catalog here. The stop-post script
 * (units/sysbrokerd-stop-post.in) writes SB_MESSAGE_LISTENER_LOST itself. */
#pragma once

#define SB_MESSAGE_LISTENER_REGISTERED "981757a192d046a196416ada44bf9f9a"
#define SB_MESSAGE_REGISTRATION_REFUSED "1383d734fcde4c85883c553fef7624db"
#define SB_MESSAGE_LISTENER_REMOVED "b83f7dcfecad4a1ba9fa69eef7469f76"
#define SB_MESSAGE_DECISION "e6f94675a4d544cd925c50cf22e548fa"
#define SB_MESSAGE_EMULATION_FAILED "e1b9902696254785a38b416201bff0cf"
#define SB_MESSAGE_LISTENER_LOST "cab5f6243d8149eea3eeabfc83acafc5"
#define SB_MESSAGE_LISTENER_RESTORED "1bfecbb74cc341f6862632c463b954cf"

#define SB_MESSAGE_ID(id) "MESSAGE_ID=" id
