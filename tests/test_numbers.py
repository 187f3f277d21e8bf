"""COUNT text -> value/unit/approx, on the forms real reports use (SPEC §2-3)."""

from __future__ import annotations

import pytest

from nianbao.numbers import ParsedCount, parse_count

CASES = [
    # (count text, context before, value, unit, approx)
    ("312件", "", 312, "件", False),
    ("4.13万余条", "", 41300, "条", True),
    ("7万余元", "", 70000, "元", True),
    ("3.5万元", "", 35000, "元", False),
    ("181万元", "", 1810000, "元", False),
    ("30余万元", "", 300000, "元", True),
    ("1.2亿元", "", 120000000, "元", False),
    ("10698人次", "约", 10698, "人次", True),
    ("77000多条", "", 77000, "条", True),
    ("14万多人次", "", 140000, "人次", True),
    ("三件", "", 3, "件", False),
    ("两千余条", "", 2000, "条", True),
    ("一千零五件", "", 1005, "件", False),
    ("二〇件", "", 20, "件", False),
    ("十件", "", 10, "件", False),
    ("１２件", "", 12, "件", False),
    ("３．５万元", "", 35000, "元", False),
    ("1,234条", "共", 1234, "条", False),
    ("0件", "", 0, "件", False),
    ("1起", "", 1, "起", False),
    ("500条", "超过", 500, "条", True),
    ("20条", "近", 20, "条", True),
    ("8份", "累计", 8, "份", False),
    ("12", "", 12, None, False),
    ("20.3", "", 20.3, None, False),
    # Traditional script: numerals, multipliers, approximators and units
    ("兩份", "", 2, "份", False),
    ("4.13萬餘條", "", 41300, "条", True),
    ("1.2億元", "", 120000000, "元", False),
    ("兩千餘個", "", 2000, "个", True),
    ("500條", "超過", 500, "条", True),
    # a space inside the count (PDF text layers)
    ("890 件", "", 890, "件", False),
    ("1.5 万条", "", 15000, "条", False),
]


@pytest.mark.parametrize("text,before,value,unit,approx", CASES)
def test_real_world_forms(text, before, value, unit, approx):
    parsed = parse_count(text, before)
    assert parsed.value == value
    assert type(parsed.value) is type(value)  # whole numbers come back as int
    assert parsed.unit == unit
    assert parsed.approx is approx
    assert parsed.zero is False


@pytest.mark.parametrize("text", ["未收到", "没有发生", "无", "未发生", "沒有發生", "未", "尚无发现", "暂未"])
def test_zero_statements_are_zero(text):
    assert parse_count(text) == ParsedCount(0, None, False, zero=True)


@pytest.mark.parametrize("text", ["", "申请", "予以公开", "件"])
def test_text_without_a_number_is_a_clear_error(text):
    with pytest.raises(ValueError, match="no number"):
        parse_count(text)
