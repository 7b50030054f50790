from dagster import DynamicPartitionsDefinition

# One partition per review dump file; the key is `settings.dump_id_for(file)`.
review_dumps = DynamicPartitionsDefinition(name="review_dumps")
