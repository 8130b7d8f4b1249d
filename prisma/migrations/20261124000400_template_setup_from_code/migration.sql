-- Built-in templates follow the code's setup text at every start, unless an operator edited it.
-- setup_from_code is the md5 of the text the service itself last wrote; the text is replaced
-- only while its md5 still equals it. Rows from before this column get it when their text is
-- one the code ever wrote (each provider's every past version, listed below from the
-- repository's history): those are unedited. Any other text was edited and stays as it is.
ALTER TABLE "integration_templates" ADD COLUMN "setup_from_code" TEXT;

UPDATE "integration_templates" t
SET "setup_from_code" = md5(t."setup_instructions")
FROM (VALUES
  ('amazon', 'e9a7503d5d491151dd3576656efeacff'),
  ('dropbox', '30f8f85ee7f3683c182b58b42a6d1f8f'),
  ('dropbox', '4591532f7f7faef2bc8c24c36a03eb45'),
  ('gmail', '98ecf9f4234e62952a534ccc13d6693c'),
  ('gohighlevel', '3277fbea5acf92364f43a3518302d131'),
  ('gohighlevel', '5bc2d3020cf291659fd54e333cbe4e1d'),
  ('gohighlevel', 'd15ba1f0fdf1620bd961bf884bebe0b0'),
  ('gohighlevel', 'd22d44279fca88345f8414da04ec8b24'),
  ('google_drive', '3e340b883551e6d101f3f4555bbb6f01'),
  ('google_drive', 'c2d2d3306c9b7ccdf26f7ee02e30e0d1'),
  ('hubspot', 'b88857aabb77221e6118f24bb2fad3ac'),
  ('hubspot', 'de9705236abb20bb9a6d204938abff2a'),
  ('mailchimp', 'e2902ab2a8e2f4030d1c3ef331f8cf31'),
  ('salesforce', '210285e42171bf362404f915823d7ad6'),
  ('salesforce', '4c93003d97cf6e80726fb3670aab6d2e'),
  ('salesforce', 'e2f4eb10782e816bec3243210cc77d25'),
  ('sendgrid', '5e4ae8770f64221dc3f18cdec9abfdc7'),
  ('stripe', 'cff87804d203318ca8eec62e17471815'),
  ('wealthbox', '0469299231cc13b337af02b126b3ae62'),
  ('wealthbox', '4eb3abe6b8a6028892d66e9377b5a925'),
  ('zapier', '55e73dff0d1a6e12871f40879e11df67'),
  ('zoho', '50161b8037d720fa1679bdb3449a412c'),
  ('zoho', '58e42aa4d16a878d9607d96450afef81'),
  ('zoho', 'c20457edd03f1719a047615c6b9ae9c6'),
  ('zoho', 'e4921ea7dbad8f64187c371587724033')
) AS known(name, hash)
WHERE t."built_in" AND t."name" = known.name AND md5(t."setup_instructions") = known.hash;
