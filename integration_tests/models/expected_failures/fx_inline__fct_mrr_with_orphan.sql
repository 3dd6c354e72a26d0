-- fct_mrr plus one row for a company that dim_company does not have (an orphan foreign key).
select company_id, date_key, mrr
from {{ source('inline', 'fct_mrr') }}

union all

select 999999 as company_id, date_key, mrr
from {{ source('inline', 'fct_mrr') }}
where company_id = (select min(company_id) from {{ source('inline', 'fct_mrr') }})
  and date_key = (select min(date_key) from {{ source('inline', 'dim_date') }})
