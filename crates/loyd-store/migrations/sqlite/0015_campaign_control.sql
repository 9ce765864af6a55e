-- Control groups of campaigns: who qualified for each campaign that holds out a share
-- of its customers, and in which group. The roll_up job's contents pass writes a row
-- the first time a customer's receipt qualifies (from the receipt's stored response),
-- never again for the same campaign and customer; the effect report sets the groups'
-- purchases (customer_months) side by side.
-- The migration of the same number for the other backend does the same.
CREATE TABLE campaign_members (
    campaign     TEXT NOT NULL,
    customer_id  INTEGER NOT NULL,
    -- 1: in the control group (the campaign gave nothing); 0: treated.
    held_out     INTEGER NOT NULL,
    -- The store's local day of the first qualifying receipt, YYYY-MM-DD.
    first_day    TEXT NOT NULL,
    PRIMARY KEY (campaign, customer_id)
);
