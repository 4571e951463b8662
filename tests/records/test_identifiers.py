import datetime as dt

import pytest

from records.identifiers import (
    IdentifierError,
    make_resident_id,
    make_uscc,
    mask_phone,
    mask_resident_id,
    org_code_check_char,
    validate_resident_id,
    validate_uscc,
)
from repair_flow.masking import mask_text


class TestUscc:
    def test_it_accepts_the_reference_example(self):
        assert validate_uscc("914403001922038216") == "914403001922038216"

    def test_it_normalises_case_and_spaces(self):
        code = make_uscc(serial=4321)
        mixed = f"  {code[:-3]}{code[-3:].lower()} \t"
        assert validate_uscc(mixed) == code

    def test_lower_case_letters_in_a_real_code_are_normalised(self):
        # 91370100MA3C000000-style codes carry letters in the organisation code.
        org8 = "MA3CXY7L"
        org9 = org8 + org_code_check_char(org8)
        from records.identifiers import uscc_check_char

        first17 = "91370100" + org9
        code = first17 + uscc_check_char(first17)
        assert validate_uscc(code.lower()) == code

    @pytest.mark.parametrize("value", ["91440300192203821", "9144030019220382160", ""])
    def test_it_rejects_the_wrong_length(self, value):
        with pytest.raises(IdentifierError) as err:
            validate_uscc(value)
        assert err.value.rule == "length"
        assert "18位" in err.value.message

    @pytest.mark.parametrize("bad", ["I", "O", "S", "V", "Z", "-"])
    def test_it_rejects_characters_outside_the_alphabet(self, bad):
        with pytest.raises(IdentifierError) as err:
            validate_uscc("9144030019220382" + bad + "6")
        assert err.value.rule == "alphabet"
        assert bad in err.value.message

    def test_it_rejects_a_non_numeric_region(self):
        with pytest.raises(IdentifierError) as err:
            validate_uscc("91A403001922038216")
        assert err.value.rule == "region"

    def test_it_checks_the_embedded_organisation_code(self):
        # Change the organisation code's own check digit (char 17) and fix up char 18,
        # so only the GB 11714 check can catch it.
        from records.identifiers import uscc_check_char

        first17 = "91440300192203820"  # organisation check should be 1
        code = first17 + uscc_check_char(first17)
        with pytest.raises(IdentifierError) as err:
            validate_uscc(code)
        assert err.value.rule == "organisation_check"
        assert "GB 11714" in err.value.message

    def test_it_checks_the_final_check_character(self):
        with pytest.raises(IdentifierError) as err:
            validate_uscc("914403001922038217")
        assert err.value.rule == "check_character"
        assert "第18位" in err.value.message

    def test_organisation_check_maps_10_to_x_and_11_to_0(self):
        values = {org_code_check_char(f"{n:08d}") for n in range(0, 3000)}
        assert "X" in values and "0" in values

    def test_generated_codes_are_valid(self):
        for serial in range(1, 500, 7):
            assert validate_uscc(make_uscc(serial=serial)) == make_uscc(serial=serial)


class TestResidentId:
    def test_it_accepts_the_reference_example_with_lower_case_x(self):
        assert validate_resident_id(" 11010519491231002x ") == "11010519491231002X"

    def test_it_rejects_the_wrong_length(self):
        with pytest.raises(IdentifierError) as err:
            validate_resident_id("1101051949123100")
        assert err.value.rule == "length"

    def test_it_rejects_letters_in_the_first_17(self):
        with pytest.raises(IdentifierError) as err:
            validate_resident_id("11010519491231A02X")
        assert err.value.rule == "characters"

    @pytest.mark.parametrize("region", ["000000", "990105", "110000"])
    def test_it_rejects_an_invalid_region(self, region):
        with pytest.raises(IdentifierError) as err:
            validate_resident_id(region + "19491231002X")
        assert err.value.rule == "region"

    @pytest.mark.parametrize("birth", ["19490230", "20230229", "19491301", "19490000"])
    def test_it_rejects_a_birth_date_that_does_not_exist(self, birth):
        with pytest.raises(IdentifierError) as err:
            validate_resident_id("110105" + birth + "002X")
        assert err.value.rule == "birth_date"
        assert "出生日期" in err.value.message

    def test_it_rejects_a_birth_date_in_the_future(self):
        number = make_resident_id(birth=dt.date.today() + dt.timedelta(days=1), serial=1)
        with pytest.raises(IdentifierError) as err:
            validate_resident_id(number)
        assert err.value.rule == "birth_date"

    def test_a_leap_day_is_a_real_date(self):
        number = make_resident_id(birth=dt.date(2000, 2, 29), serial=17)
        assert validate_resident_id(number) == number

    def test_it_checks_the_check_character(self):
        with pytest.raises(IdentifierError) as err:
            validate_resident_id("110105194912310021")
        assert err.value.rule == "check_character"
        assert "校验码" in err.value.message


class TestMasking:
    def test_resident_id_shows_first_6_and_last_4(self):
        assert mask_resident_id("11010519491231002X") == "110105********002X"

    def test_phone_shows_first_3_and_last_4(self):
        assert mask_phone("13812345678") == "138****5678"

    def test_log_text_masks_ids_and_phones_but_not_uscc(self):
        text = "查询 11010519491231002X 手机13812345678 企业914403001922038216"
        assert mask_text(text) == "查询 110105********002X 手机138****5678 企业914403001922038216"

    def test_the_logging_filter_masks_messages(self, caplog):
        import logging

        from repair_flow.masking import MaskingLogFilter

        logger = logging.getLogger("tests.masking")
        logger.addFilter(MaskingLogFilter())
        with caplog.at_level(logging.INFO, logger="tests.masking"):
            logger.info("applicant %s filed", "11010519491231002X")
        assert "110105********002X" in caplog.text
        assert "11010519491231002X" not in caplog.text
