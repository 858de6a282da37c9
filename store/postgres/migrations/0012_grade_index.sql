-- ListCustomers' filter on grade (grade = "A"): the customers holding one
-- grade, in customer order, for the semi-join with the listing. tenant_id
-- leads, as in every index.
CREATE INDEX customer_grades_grade ON customer_grades (tenant_id, grade, customer_id);
