package domain

// SegmentDue exposes segmentDue to the external tests.
var SegmentDue = segmentDue
