// CByteScan: byte loops that Swift does not vectorize, as static inline C (no library to link): the POP3
// RETR encoder's line-feed search, 16 bytes per step with SSE2 (every x86-64 has it), byte by byte elsewhere.
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// Writes the POP3 wire form of `count` stored bytes at `source` (LF line ends) to `target`, which has room
/// for `2 * count` bytes, and returns how many it wrote: each LF not already after a CR gets a CR, and a "."
/// starting a line gets another "." in front (RFC 1939 §3). `*at_line_start` and `*last_was_cr` carry the
/// state from one chunk to the next (a chunk may end anywhere, even between CR and LF).
static inline size_t cbytescan_pop3_stuff(const uint8_t *source, size_t count, uint8_t *target,
                                          int *at_line_start, int *last_was_cr) {
    size_t index = 0, written = 0;
    int line_start = *at_line_start, last_cr = *last_was_cr;
    while (index < count) {
        if (line_start && source[index] == '.') target[written++] = '.';
        line_start = 0;
        // Find the next LF, copying as we go. A 16-byte step stores all 16 bytes; the ones after the LF are
        // written again later. It never writes past `2 * count`: at most one byte was added per input byte
        // before `run_start` and one dot at it, so a step ends by `run_start + index + 17`, within `2 * count`
        // since a step needs `index + 16 <= count`. (Two 16-byte compares per step ran more instructions on
        // 77-byte lines, measured with callgrind.)
        size_t run_start = index;
        size_t line_feed = count;
#if defined(__SSE2__)
        const __m128i feeds = _mm_set1_epi8('\n');
        while (index + 16 <= count) {
            __m128i block = _mm_loadu_si128((const __m128i *)(source + index));
            _mm_storeu_si128((__m128i *)(target + written + (index - run_start)), block);
            int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(block, feeds));
            if (mask != 0) {
                line_feed = index + (size_t)__builtin_ctz((unsigned)mask);
                break;
            }
            index += 16;
        }
        if (line_feed == count)
#endif
        {
            const uint8_t *hit = memchr(source + index, '\n', count - index);
            if (hit != NULL) line_feed = (size_t)(hit - source);
            memmove(target + written + (index - run_start), source + index, (hit != NULL ? line_feed : count) - index);
        }
        size_t run_length = line_feed - run_start;
        written += run_length;
        if (run_length > 0) last_cr = source[line_feed - 1] == '\r';
        if (line_feed == count) break;  // no LF in the rest of the chunk: the line goes on in the next one
        if (!last_cr) target[written++] = '\r';
        target[written++] = '\n';
        last_cr = 0;
        line_start = 1;
        index = line_feed + 1;
    }
    *at_line_start = line_start;
    *last_was_cr = last_cr;
    return written;
}
