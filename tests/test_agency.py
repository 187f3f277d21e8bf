"""Where a report names its reporting body, rule by rule, on snippets made up for the tests.

Each snippet is the shape a reader of these reports knows (a contact line, a page's metadata table,
a title, the first sentence of the overview); the names are invented.
"""

from __future__ import annotations

import pytest

from nianbao import normalise

OVERVIEW = "一、总体情况\n本年度主动公开信息120条。\n"


def agency(text: str) -> str | None:
    return normalise.find_agency_year(text).agency


@pytest.mark.parametrize(
    "text,body",
    [
        # the contact line names the body, one of its offices or sections, or its disclosure office
        ("本报告依据条例编制。如对本报告有任何疑问,请与青石县水务局办公室联系(电话:1234)。", "青石县水务局"),
        ("如对本报告有疑问,请与东岭市人民政府办公室文书科联系。", "东岭市人民政府办公室"),
        ("如有疑问请与白河县林业局政府信息公开工作领导小组办公室联系。", "白河县林业局"),
        ("如有疑问请与白河县政务服务和大数据管理局(地址:白河县人民路1号)。", "白河县政务服务和大数据管理局"),
        ("若有意见建议,可通过意见箱反映或直接与青山镇党政办联系。", "青山镇"),
        ("如对报告有疑问,请联系:北岭县人民政府办公室,联系电话88888888。", "北岭县人民政府办公室"),
        # a government's disclosure office: the region's 人民政府 where the opening prints it, else the region
        ("如对本报告有任何疑问,请与南川区政府信息公开办公室联系。\n2015年,南川区人民政府各部门推进公开。", "南川区人民政府"),
        ("如对本报告有任何疑问,请与南川区政府信息公开办公室联系。", "南川区"),
        ("如对报告有疑问,请与北川市政务公开协调办公室联系。", "北川市"),
    ],
)
def test_the_contact_line_names_the_body(text, body):
    assert agency(text) == body


def test_the_contact_line_is_read_after_the_compiler_sentence():
    text = "本报告由沙洲区人民政府办公室编制。如对本报告有任何疑问,请与沙洲区信息中心联系。"
    assert agency(text) == "沙洲区人民政府办公室"


@pytest.mark.parametrize(
    "text,body",
    [
        ("索引号 | 公开方式 | 发布机构 |\n11300/2010-00023 | 主动公开 | 青石县张家镇人民政府 |\n" + OVERVIEW, "青石县张家镇人民政府"),
        ("索引号: | 1130/2023-1 | 文件编号: | 发布机构: | 白河县统计局 | |\n生成日期: | 2023-01-16 |\n" + OVERVIEW, "白河县统计局"),
        ("索引号 | 公开方式 | 发布日期 |\n11300/2010-00023 | 主动公开 | 2010-03-01 |\n" + OVERVIEW, None),
    ],
)
def test_the_page_metadata_table_names_the_publisher(text, body):
    assert agency(text) == body


@pytest.mark.parametrize(
    "text,body",
    [
        ("青桥街2021年政府信息公开工作年度报告\n一、总体情况", "青桥街"),  # 街 for 街道 before the title's year
        ("省沿海办2022年政府信息公开工作年度报告\n本年度报告由东岭省沿海开发管理办公室(以下简称省沿海办)编制。",
         "东岭省沿海开发管理办公室"),
        ("根据条例,编制形成2021年青石县人民政府办公室政府信息公开年度报告。", "青石县人民政府办公室"),
        ("围绕中心工作,白河县卫生健康局撰写了2022年度政府信息公开工作年度报告。", "白河县卫生健康局"),
        ("本报告由东岭市统计局、国家统计局东岭调查队(以下简称统计局队)编制。", "东岭市统计局"),
    ],
)
def test_titles_and_compiler_sentences(text, body):
    assert agency(text) == body


@pytest.mark.parametrize(
    "text,body",
    [
        # a government's office that summed its districts' and departments' reports reports for the government
        ("本报告由东岭市政府办公厅综合各区政府和市政府各部门的年度报告编写而成。", "东岭市"),
        ("本报告由东岭市政府办公厅综合各区政府和市政府各部门的年度报告编写而成。东岭市人民政府网站可下载。", "东岭市人民政府"),
        ("本报告由东岭市政府办公厅编制。", "东岭市政府办公厅"),  # its own report
        # `X政府` is the short form of `X人民政府`
        ("本年报由青石县政府编制。如有疑问请联系:青石县人民政府办公室。", "青石县人民政府"),
        ("本年报由青石县政府编制。", "青石县"),
    ],
)
def test_governments_and_their_offices(text, body):
    assert agency(text) == body


@pytest.mark.parametrize(
    "text,body",
    [
        # the 政府 of 政府信息公开 after a bare level or a phrase names no body: read on
        ("特向社会公布2010年区政府信息公开工作年度报告。本报告由东岭市兴安区人民政府办公室编制。", "东岭市兴安区人民政府办公室"),
        ("我局编制了2017年度政府信息公开工作年度报告。为推进和规范政府信息公开工作,我局精心组织。", None),
        ("2012年,在国务院全面加强透明政府建设的背景下,各项工作有序推进。", None),  # a preposition, not a name
        ("东岭市娱乐城官网民政局2010年政府信息公开工作年度报告\n一、概述", None),  # spam in place of the place
    ],
)
def test_phrases_and_spam_are_no_names(text, body):
    assert agency(text) == body


@pytest.mark.parametrize(
    "text,body",
    [
        ("一、概述\n2018年,按照县委部署,在县政府信息中心的指导下,石桥镇认真贯彻落实《条例》。", "石桥镇"),
        ("一、总体情况\n截至2019年12月31日,石桥乡人民政府通过信息平台公开信息100条。", "石桥乡人民政府"),
        ("一、概述\n青石市2016年政府信息公开工作,认真贯彻落实《条例》。", "青石市"),
        ("一、概述\n2010年度,青石市政府信息公开工作以贯彻落实《条例》为主线。", "青石市"),
        ("一、概述\n北川省各级政府重视政府信息公开工作。", "北川省"),
        ("一、概述\n为了确保全市各级政府按时公开,开展了培训。", None),
    ],
)
def test_the_subject_of_the_overview(text, body):
    assert agency(text) == body


def test_a_name_that_opens_three_clauses_is_the_body():
    three = ("(一)主动公开情况:西湾镇人民政府利用公告栏公开信息27次。\n(二)2023年,西湾镇人民政府发布信息149条。\n"
             "(三)依申请公开。西湾镇人民政府受理申请0件。")
    assert agency(three) == "西湾镇人民政府"
    two = "(一)主动公开情况:西湾镇人民政府利用公告栏公开信息27次。\n(二)2023年,西湾镇人民政府发布信息149条。"
    assert agency(two) is None


def test_a_region_that_calls_itself_benshi_is_its_government():
    text = "2024年,本市秉持公开原则。\n决策公开:通过青石市人民政府网站征求意见。"
    assert agency(text) == "青石市人民政府"
    assert agency(text + "\n我局收到申请3件。") is None  # a bureau that says 本市 of its city is not the city
    assert agency(text + "\n按照东岭市人民政府的要求推进。") is None  # two governments of that level: ambiguous


def test_only_the_opening_is_read():
    """The body is named in the opening; a name first printed far into the report is not taken."""
    filler = "主动公开各类信息。" * 200  # 1,800 characters
    assert agency("一、总体情况\n" + filler + "如对本报告有疑问,请与青石县水务局联系。") is None
    assert agency("一、总体情况\n如对本报告有疑问,请与青石县水务局联系。" + filler) == "青石县水务局"


def test_a_place_with_quan_in_its_name_is_not_the_whole_area():
    assert agency("万全区2020年政府信息公开工作年度报告\n一、总体情况") == "万全区"
    assert agency("一、概述\n督促全省各级政府按时公开。") is None


@pytest.mark.parametrize("unit", ["党政办", "综合办公室", "办公室"])
def test_a_bare_unit_word_is_no_name(unit):
    assert agency(f"如对本报告有疑问,请与{unit}联系。") is None
