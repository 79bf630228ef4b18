// The table of probes that instruction_forms.S lays out between two labels.
#include "klfs_instruction_forms.h"

extern const klfs_probe_form klfs_probe_forms_start[];
extern const klfs_probe_form klfs_probe_forms_end[];

size_t klfs_probe_form_count(void) {
    return (size_t)(klfs_probe_forms_end - klfs_probe_forms_start);
}

const klfs_probe_form *klfs_probe_form_at(size_t index) {
    return index < klfs_probe_form_count() ? &klfs_probe_forms_start[index] : NULL;
}
