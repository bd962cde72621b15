/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Intrusive doubly-linked lists: an item has "next" and "prev" pointers; the list is a head pointer (and, for a
 * queue, a tail pointer). The one place the links are written. */
#pragma once

/* Puts item first. */
#define LIST_PREPEND(head, item)                                        \
        do {                                                            \
                typeof(item) _item = (item);                            \
                _item->prev = NULL;                                     \
                _item->next = (head);                                   \
                if (_item->next)                                        \
                        _item->next->prev = _item;                      \
                (head) = _item;                                         \
        } while (0)

/* Takes item out; an item in no list (no prev, not the head) leaves the list as it is. */
#define LIST_REMOVE(head, item)                                         \
        do {                                                            \
                typeof(item) _item = (item);                            \
                if (_item->prev)                                        \
                        _item->prev->next = _item->next;                \
                else if ((head) == _item)                               \
                        (head) = _item->next;                           \
                if (_item->next)                                        \
                        _item->next->prev = _item->prev;                \
                _item->next = _item->prev = NULL;                       \
        } while (0)

/* A queue: puts item last. */
#define LIST_APPEND_TAIL(head, tail, item)                              \
        do {                                                            \
                typeof(item) _item = (item);                            \
                _item->next = NULL;                                     \
                _item->prev = (tail);                                   \
                if (_item->prev)                                        \
                        _item->prev->next = _item;                      \
                else                                                    \
                        (head) = _item;                                 \
                (tail) = _item;                                         \
        } while (0)

/* A queue: takes item out, keeping tail. */
#define LIST_REMOVE_TAIL(head, tail, item)                              \
        do {                                                            \
                typeof(item) _item2 = (item);                           \
                if (!_item2->next && (tail) == _item2)                  \
                        (tail) = _item2->prev;                          \
                LIST_REMOVE(head, _item2);                              \
        } while (0)
