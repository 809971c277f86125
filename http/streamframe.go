package http

import (
	"encoding/json"
	"strconv"
	"sync/atomic"

	"latchkey"
)

// frameSlots is how many recent events' frames a server keeps: as many
// as the store's feed keeps events, so that streams that are caught up
// find every frame they send there.
const frameSlots = 4096

// frameCache keeps the text/event-stream frame of recent events, by seq.
// Every open stream sends every event it may see, and an event's frame is
// the same on every stream: with it, N streams encode an event once
// instead of N times (json.Marshal was 23% of the server's CPU with 1,000
// streams, `latchkey bench fanout`). A slot holds one frame; an event
// whose slot holds another seq is encoded again and takes the slot.
type frameCache struct {
	slots [frameSlots]atomic.Pointer[frame]
}

type frame struct {
	seq  int64
	text []byte // read-only once stored
}

// get returns e's frame, from the cache or encoded now. The frame is
// shared: the caller must not modify it.
func (c *frameCache) get(e latchkey.Event) []byte {
	slot := &c.slots[uint64(e.Seq)%frameSlots]
	if f := slot.Load(); f != nil && f.seq == e.Seq {
		return f.text
	}
	text := appendFrame(nil, e)
	slot.Store(&frame{seq: e.Seq, text: text})
	return text
}

// appendFrame appends e in the text/event-stream format: id = its seq,
// event = its action, data = the event as one line of JSON (encoding/json
// never writes a raw newline).
func appendFrame(b []byte, e latchkey.Event) []byte {
	data, err := json.Marshal(e)
	if err != nil { // an Event is plain values and raw JSON from the store
		data = []byte(`{"seq":` + strconv.FormatInt(e.Seq, 10) + `}`)
	}
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, e.Action...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}
