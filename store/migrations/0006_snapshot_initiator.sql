-- An approval binds the exact launch: the launch spec (instance type, AMI,
-- region, subnet, security groups, key pair, root volume, tags, user
-- data) is snapshotted into the request when it is made, as JSON; '' for
-- requests made before the snapshot existed.
ALTER TABLE requests ADD COLUMN launch_spec TEXT NOT NULL DEFAULT '';

-- Who asked for an approval, kept apart from the server's owner: an
-- approver who extends someone else's lease is its initiator, and neither
-- the owner nor the initiator may vote on it. '' for approvals opened
-- before it was recorded (their initiator was the owner).
ALTER TABLE approvals ADD COLUMN initiator_slack TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN initiator_email TEXT NOT NULL DEFAULT '';
