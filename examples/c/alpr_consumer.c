/*
 * A plate-event consumer in C (libzmq only): what a non-Python service needs to read the alpr stream.
 *
 *   cc -O2 -o alpr_consumer alpr_consumer.c -lzmq      (Debian: apt-get install libzmq3-dev)
 *   ./alpr_consumer tcp://127.0.0.1:5555 [COUNT]
 *
 * Prints one line per event, in sequence order, with no hole: "<seq>\t<event JSON>\t<crop bytes>".
 * Events published before it started come from the publisher's outbox (replay channel); a hole in
 * the live sequence numbers is filled the same way. It follows one publisher and does not
 * acknowledge (a store would send ACK {"consumer": NAME, "seq": N} once it committed).
 *
 * Wire format (see python/alpr/stream/_wire.py):
 *   PUB message: [topic = camera | "\0alpr.hb"] [header: u8 version=1, 16-byte publisher id,
 *                u64 big-endian seq] [event JSON | heartbeat JSON] [JPEG crop or empty]
 *   replay: DEALER sends [REPLAY] [{"from": N, "max": K}], gets [BATCH] [meta JSON] then
 *           (header, JSON, crop) per event; every seq up to meta "through" was covered.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define HEADER_SIZE 25
#define HEARTBEAT_TOPIC "\0alpr.hb"
#define HEARTBEAT_TOPIC_LEN 8

typedef struct {
    zmq_msg_t *parts;
    size_t n, cap;
} multipart_t;

static int recv_multipart(void *sock, multipart_t *m) {
    m->n = 0;
    for (;;) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 8;
            zmq_msg_t *p = realloc(m->parts, cap * sizeof *p);
            if (!p) return -1;
            m->parts = p;
            m->cap = cap;
        }
        zmq_msg_t *part = &m->parts[m->n];
        zmq_msg_init(part);
        if (zmq_msg_recv(part, sock, 0) < 0) {
            zmq_msg_close(part);
            return -1;
        }
        m->n++;
        if (!zmq_msg_more(part)) return 0;
    }
}

static void close_multipart(multipart_t *m) {
    for (size_t i = 0; i < m->n; i++) zmq_msg_close(&m->parts[i]);
    m->n = 0;
}

static const uint8_t *data(multipart_t *m, size_t i) { return zmq_msg_data(&m->parts[i]); }
static size_t size(multipart_t *m, size_t i) { return zmq_msg_size(&m->parts[i]); }

/* Parse a header frame: returns 0 and sets *seq, or -1 when it is not a version-1 header. */
static int header_seq(const uint8_t *h, size_t len, uint64_t *seq) {
    if (len != HEADER_SIZE || h[0] != 1) return -1;
    *seq = 0;
    for (int i = 17; i < 25; i++) *seq = (*seq << 8) | h[i];
    return 0;
}

/* Copy the JSON string value of "key" from a small flat object into out (no escapes expected). */
static int json_string(const uint8_t *json, size_t len, const char *key, char *out, size_t cap) {
    char buf[1024], pat[64];
    if (len >= sizeof buf) return -1;
    memcpy(buf, json, len);
    buf[len] = 0;
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *s = strstr(buf, pat);
    if (!s) return -1;
    s += strlen(pat);
    const char *e = strchr(s, '"');
    if (!e || (size_t)(e - s) >= cap) return -1;
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = 0;
    return 0;
}

static int json_uint(const uint8_t *json, size_t len, const char *key, uint64_t *out) {
    char buf[1024], pat[64];
    if (len >= sizeof buf) return -1;
    memcpy(buf, json, len);
    buf[len] = 0;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *s = strstr(buf, pat);
    if (!s) return -1;
    char *end;
    *out = strtoull(s + strlen(pat), &end, 10);
    return end == s + strlen(pat) ? -1 : 0;
}

typedef struct {
    uint64_t last;    /* last seq printed (or skipped as covered) */
    uint64_t target;  /* highest seq known to exist */
    long printed, wanted;
    int inflight;
    void *dealer;
} state_t;

static void emit(state_t *st, uint64_t seq, const uint8_t *json, size_t json_len, size_t crop_len) {
    if (st->wanted >= 0 && st->printed >= st->wanted) return;
    printf("%llu\t%.*s\t%zu\n", (unsigned long long)seq, (int)json_len, (const char *)json, crop_len);
    st->last = seq;
    st->printed++;
}

static void request_replay(state_t *st) {
    if (!st->dealer || st->inflight || st->last >= st->target) return;
    char body[96];
    int n = snprintf(body, sizeof body, "{\"from\":%llu,\"max\":1000}", (unsigned long long)st->last + 1);
    zmq_send(st->dealer, "REPLAY", 6, ZMQ_SNDMORE);
    zmq_send(st->dealer, body, (size_t)n, 0);
    st->inflight = 1;
}

/* tcp://0.0.0.0:PORT announced by the publisher -> keep our host, take its port. */
static void connectable(const char *announced, const char *via, char *out, size_t cap) {
    if (strncmp(announced, "tcp://", 6) == 0 && strncmp(via, "tcp://", 6) == 0) {
        const char *port = strrchr(announced, ':');
        const char *host_end = strrchr(via, ':');
        snprintf(out, cap, "%.*s%s", (int)(host_end - via), via, port);
    } else {
        snprintf(out, cap, "%s", announced);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s ENDPOINT [COUNT]\n", argv[0]);
        return 2;
    }
    const char *endpoint = argv[1];
    state_t st = {0};
    st.wanted = argc > 2 ? atol(argv[2]) : -1;
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect(sub, endpoint) != 0) {
        fprintf(stderr, "cannot connect to %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        return 1;
    }
    multipart_t m = {0};
    char replay[512] = "", announced[512];
    while (st.wanted < 0 || st.printed < st.wanted) {
        zmq_pollitem_t items[2] = {{sub, 0, ZMQ_POLLIN, 0}, {st.dealer, 0, ZMQ_POLLIN, 0}};
        int ready = zmq_poll(items, st.dealer ? 2 : 1, 2000);
        if (ready < 0) break;
        if (ready == 0) { /* quiet for 2 s: a lost replay answer must not stall us */
            st.inflight = 0;
            request_replay(&st);
            continue;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            if (recv_multipart(sub, &m) != 0) break;
            uint64_t seq = 0;
            if (m.n != 4 || header_seq(data(&m, 1), size(&m, 1), &seq) != 0) {
                fprintf(stderr, "malformed message skipped\n");
            } else if (size(&m, 0) == HEARTBEAT_TOPIC_LEN && memcmp(data(&m, 0), HEARTBEAT_TOPIC, 8) == 0) {
                if (seq > st.target) st.target = seq;
                if (!st.dealer && json_string(data(&m, 2), size(&m, 2), "replay", announced, sizeof announced) == 0) {
                    connectable(announced, endpoint, replay, sizeof replay);
                    st.dealer = zmq_socket(ctx, ZMQ_DEALER);
                    zmq_connect(st.dealer, replay);
                    fprintf(stderr, "replay channel: %s\n", replay);
                }
                request_replay(&st);
            } else if (st.dealer && seq == st.last + 1) {
                emit(&st, seq, data(&m, 2), size(&m, 2), size(&m, 3));
            } else if (seq > st.last) {
                if (seq > st.target) st.target = seq;  /* a hole (or not introduced yet): replay it */
                request_replay(&st);
            }
            close_multipart(&m);
        }
        if (st.dealer && (items[1].revents & ZMQ_POLLIN)) {
            if (recv_multipart(st.dealer, &m) != 0) break;
            uint64_t through = 0, last = 0;
            if (m.n >= 2 && size(&m, 0) == 5 && memcmp(data(&m, 0), "BATCH", 5) == 0 &&
                json_uint(data(&m, 1), size(&m, 1), "through", &through) == 0 &&
                json_uint(data(&m, 1), size(&m, 1), "last", &last) == 0) {
                for (size_t i = 2; i + 2 < m.n; i += 3) {
                    uint64_t seq = 0;
                    if (header_seq(data(&m, i), size(&m, i), &seq) == 0 && seq > st.last)
                        emit(&st, seq, data(&m, i + 1), size(&m, i + 1), size(&m, i + 2));
                }
                if (through > st.last) st.last = through;
                if (last > st.target) st.target = last;
            } else {
                fprintf(stderr, "unexpected reply skipped\n");
            }
            st.inflight = 0;
            close_multipart(&m);
            request_replay(&st);
        }
        fflush(stdout);
    }
    free(m.parts);
    if (st.dealer) zmq_close(st.dealer);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return 0;
}
