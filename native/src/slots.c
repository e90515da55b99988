// A table of live objects by slot, with a generation per slot: a handle (slot, generation) names one object for its
// life and never a later one in the same slot. Used for epoll event tags (events.c) and UDP session ids (udp.c), so
// that a late event or call for an ended object is recognized and dropped instead of reaching freed memory.
#include <errno.h>
#include <stdlib.h>
#include "sluice.h"

int slots_take(slot_table_t *t, void *item, uint32_t *slot) {
  if (t->nfree == 0) {
    if (t->n >= SLOTS_MAX) return -ENOMEM;
    uint32_t cap = t->n == 0 ? 256 : t->n * 2;
    if (cap > SLOTS_MAX) cap = SLOTS_MAX;
    void **items = realloc(t->items, cap * sizeof *items);
    if (items == NULL) return -ENOMEM;
    t->items = items;
    uint32_t *gens = realloc(t->gens, cap * sizeof *gens);
    if (gens == NULL) return -ENOMEM;
    t->gens = gens;
    uint32_t *free_slots = realloc(t->free_slots, cap * sizeof *free_slots);
    if (free_slots == NULL) return -ENOMEM;
    t->free_slots = free_slots;
    // the new slots, highest first, so the lowest is taken next
    for (uint32_t s = cap; s > t->n; s--) {
      t->items[s - 1] = NULL;
      t->gens[s - 1] = 0;
      t->free_slots[t->nfree++] = s - 1;
    }
    t->n = cap;
  }
  *slot = t->free_slots[--t->nfree];
  t->items[*slot] = item;
  return 0;
}

void slots_release(slot_table_t *t, uint32_t slot) {
  if (slot >= t->n || t->items[slot] == NULL) return;
  t->items[slot] = NULL;
  t->gens[slot] = (t->gens[slot] + 1) & SLOT_GEN_MASK;
  t->free_slots[t->nfree++] = slot;
}

void *slots_get(const slot_table_t *t, uint32_t slot, uint32_t gen) {
  if (slot >= t->n || t->gens[slot] != gen) return NULL;
  return t->items[slot];
}

void slots_free(slot_table_t *t) {
  free(t->items);
  free(t->gens);
  free(t->free_slots);
  t->items = NULL;
  t->gens = t->free_slots = NULL;
  t->n = t->nfree = 0;
}
