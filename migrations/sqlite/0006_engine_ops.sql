-- Timer and outbox polls skip paused instances; this index keeps that check cheap.
CREATE INDEX wf_instances_status ON wf_instances (status);

-- Migrations and the stuck check look up the last state change of an instance.
CREATE INDEX wf_history_kind ON wf_history (instance_id, kind, seq);
