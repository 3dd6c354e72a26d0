-- Every month and segment, the MRR bridge and the customer bridge add up:
--   opening + new + expansion - contraction - churned = closing      (MRR, to the cent)
--   opening + new - churned = closing                                 (customers)
-- A row here means an account-month was classified twice, or not at all.
select
    month_start,
    segment,
    opening_mrr_usd + new_mrr_usd + expansion_mrr_usd - contraction_mrr_usd - churned_mrr_usd as bridged_mrr_usd,
    closing_mrr_usd,
    opening_customers + new_customers - churned_customers as bridged_customers,
    closing_customers
from {{ ref('mrr_movements') }}
where opening_mrr_usd + new_mrr_usd + expansion_mrr_usd - contraction_mrr_usd - churned_mrr_usd <> closing_mrr_usd
   or opening_customers + new_customers - churned_customers <> closing_customers
