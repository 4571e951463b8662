import pytest
from records.models import PublicityRuleSet
from django.db import connection

@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_x():
    print("COUNT", PublicityRuleSet.objects.count(), hasattr(connection, "_test_serialized_contents"))
