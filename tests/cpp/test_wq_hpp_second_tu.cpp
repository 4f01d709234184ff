// A second translation unit including wq.hpp: the header must be usable from
// several files of one program (everything inline, no duplicate symbols).
#include "wq.hpp"

int second_translation_unit(const char* name) {
    wq::queue q(name);
    q.push("second");
    const auto m = q.try_pop();
    const bool ok = m && m->size() == 6;
    wq::queue::remove(name);
    return ok ? 0 : 1;
}
