#include "agent/state/schema.h"

#include <cctype>

#include "agent/core/text.h"

namespace linkwatch::state {
namespace {

const ChoiceSet kStateCode{"statecode", {{0, "Active"}, {1, "Inactive"}}};
const ChoiceSet kStatusCode{"statuscode", {{1, "Active"}, {2, "Inactive"}}};
const ChoiceSet kProfileState{"synapselinkprofilestate",
                              {{0, "Inactive"},
                               {1, "Active"},
                               {2, "Error"},
                               {3, "Deleted"},
                               {4, "Aborting"},
                               {5, "Aborted"},
                               {6, "Suspended"},
                               {7, "Suspending"},
                               {8, "Deactivated"}}};
const ChoiceSet kProfileType{"synapselinkprofiletype", {{0, "SynapseLink"}, {1, "EventAnalytics"}}};
const ChoiceSet kDestinationSyncState{"synapselinkdestinationsyncstate",
                                      {{0, "None"}, {1, "NotCompleted"}, {2, "Completed"}}};
const ChoiceSet kPartitionStrategy{"synapselinkentitypartitionstrategy",
                                   {{0, "Year"}, {1, "Month"}, {2, "HalfMonth"}, {3, "FiveDay"}}};
const ChoiceSet kEntitySource{"synapselinkentitysource", {{0, "Dataverse"}, {1, "FnOTables"}}};
const ChoiceSet kEntityType{"synapselinkentitytype", {{0, "Requested"}}};
const ChoiceSet kSyncState{"synapselinkentitysyncstate",
                           {{0, "None"},
                            {1, "NotStarted"},
                            {2, "InProgress"},
                            {4, "Completed"},
                            {8, "CompletedWithFailures"},
                            {16, "RequestedInitialData"},
                            {32, "Paused"},
                            {64, "PostProcessing"}}};
const ChoiceSet kMetadataState{"synapselinkmetadatastate",
                               {{0, "None"},
                                {1, "NotCreated"},
                                {2, "MetadataCreating"},
                                {4, "RelationshipCreating"},
                                {8, "Created"},
                                {16, "Failure"}}};
const ChoiceSet kTableCreationState{
    "synapsetablecreationstate",
    {{0, "NotStarted"}, {1, "InProgress"}, {2, "Completed"}, {3, "Failed"}}};
const ChoiceSet kExternalTableState{
    "synapselinkexternaltablestate",
    {{0, "NotCreated"}, {1, "Created"}, {2, "Failed"}, {3, "Deleted"}, {4, "InProgress"}}};
const ChoiceSet kScheduleType{"synapselinkscheduletype",
                              {{0, "Snapshot"}, {1, "IncrementalUpdate"}}};
const ChoiceSet kRecurrenceUnit{
    "synapselinkrecurrenceunit",
    {{0, "None"}, {1, "Minute"}, {2, "Hour"}, {3, "Day"}, {4, "Week"}, {5, "Month"}, {6, "Year"}}};

using CT = ColumnType;

std::vector<ColumnDef> WithCommon(std::string_view key, std::vector<ColumnDef> own) {
  std::vector<ColumnDef> cols;
  cols.push_back({key, CT::kGuid});
  cols.push_back({"name", CT::kString});
  for (auto& c : own) cols.push_back(c);
  cols.push_back({"statecode", CT::kChoice, &kStateCode});
  cols.push_back({"statuscode", CT::kChoice, &kStatusCode});
  cols.push_back({"createdon", CT::kDateTime});
  cols.push_back({"modifiedon", CT::kDateTime});
  cols.push_back({"versionnumber", CT::kInt});
  return cols;
}

std::vector<TableDef> BuildTables() {
  std::vector<TableDef> t;
  t.push_back({TableId::kProfile, "synapselinkprofile", "synapselinkprofiles",
               WithCommon("synapselinkprofileid",
                          {{"uniquename", CT::kString},
                           {"profilestate", CT::kChoice, &kProfileState},
                           {"profiletype", CT::kChoice, &kProfileType},
                           {"destinationsyncstate", CT::kChoice, &kDestinationSyncState},
                           {"activationtime", CT::kDateTime},
                           {"profileupdatedtime", CT::kDateTime},
                           {"snapshotstopersist", CT::kInt},
                           {"profileversion", CT::kString},
                           {"datalakefolder", CT::kString},
                           {"copyattachments", CT::kBool},
                           {"copyfiles", CT::kBool},
                           {"extendedproperties", CT::kString}})});
  t.push_back({TableId::kProfileEntity, "synapselinkprofileentity", "synapselinkprofileentities",
               WithCommon("synapselinkprofileentityid",
                          {{"entityname", CT::kString},
                           {"profile", CT::kLookup, nullptr, TableId::kProfile},
                           {"appendonlymode", CT::kBool},
                           {"enabled", CT::kBool},
                           {"generateparquet", CT::kBool},
                           {"partitionstrategy", CT::kChoice, &kPartitionStrategy},
                           {"entitysource", CT::kChoice, &kEntitySource},
                           {"entitytype", CT::kChoice, &kEntityType},
                           {"recordcountperblock", CT::kInt},
                           {"uniquename", CT::kString},
                           {"extendedproperties", CT::kString}})});
  t.push_back({TableId::kEntityState, "synapselinkprofileentitystate",
               "synapselinkprofileentitystates",
               WithCommon("synapselinkprofileentitystateid",
                          {{"entityname", CT::kString},
                           {"profile", CT::kLookup, nullptr, TableId::kProfile},
                           {"profileentity", CT::kLookup, nullptr, TableId::kProfileEntity},
                           {"syncstate", CT::kChoice, &kSyncState},
                           {"initialsyncstate", CT::kChoice, &kSyncState},
                           {"metadatastate", CT::kChoice, &kMetadataState},
                           {"synapsetablecreationstate", CT::kChoice, &kTableCreationState},
                           {"crmrecordcount", CT::kInt},
                           {"crmrecordcountmodifiedtime", CT::kDateTime},
                           {"lakerecordcount", CT::kInt},
                           {"lakerecordcountmodifiedtime", CT::kDateTime},
                           {"additiontime", CT::kDateTime},
                           {"initialsyncmetadatacreatedtime", CT::kDateTime},
                           {"initialsyncdatacompletedtime", CT::kDateTime},
                           {"initialsyncprocesscompletedtime", CT::kDateTime},
                           {"lastsynceddatatime", CT::kDateTime},
                           {"lastsyncedmetadatatime", CT::kDateTime},
                           {"lastsynceddataversion", CT::kString},
                           {"lastsyncedmetadataversion", CT::kString},
                           {"entitysource", CT::kChoice, &kEntitySource},
                           {"entitytype", CT::kChoice, &kEntityType}})});
  t.push_back({TableId::kExternalTableState, "synapselinkexternaltablestate",
               "synapselinkexternaltablestates",
               WithCommon("synapselinkexternaltablestateid",
                          {{"entityname", CT::kString},
                           {"tablestate", CT::kChoice, &kExternalTableState},
                           {"lastsyncstate", CT::kChoice, &kExternalTableState},
                           {"lastsynchronizedon", CT::kDateTime},
                           {"schemamodifiedon", CT::kDateTime},
                           {"recordcount", CT::kInt},
                           {"maxrecordversion", CT::kInt},
                           {"metadataversion", CT::kString},
                           {"synapsedatabasename", CT::kString},
                           {"synapseworkspacename", CT::kString}})});
  t.push_back(
      {TableId::kSchedule, "synapselinkschedule", "synapselinkschedules",
       WithCommon("synapselinkscheduleid", {{"profile", CT::kLookup, nullptr, TableId::kProfile},
                                            {"entityname", CT::kString},
                                            {"type", CT::kChoice, &kScheduleType},
                                            {"recurrenceinterval", CT::kInt},
                                            {"recurrenceunit", CT::kChoice, &kRecurrenceUnit},
                                            {"starttime", CT::kDateTime}})});
  t.push_back({TableId::kDatabase, "synapsedatabase", "synapsedatabases",
               WithCommon("synapsedatabaseid", {{"databasename", CT::kString},
                                                {"workspacename", CT::kString},
                                                {"datalakefolder", CT::kString},
                                                {"schemaprefix", CT::kString},
                                                {"serverlesssqlendpoint", CT::kString},
                                                {"developmentendpoint", CT::kString},
                                                {"subscription", CT::kString},
                                                {"resourcegroup", CT::kString},
                                                {"tenant", CT::kString},
                                                {"uniquename", CT::kString}})});
  return t;
}

}  // namespace

std::optional<int> ChoiceSet::CodeOf(std::string_view label) const {
  for (const auto& o : options) {
    if (EqualsIgnoreCase(o.label, label)) return o.code;
  }
  return std::nullopt;
}

const std::string_view* ChoiceSet::LabelOf(int code) const {
  for (const auto& o : options) {
    if (o.code == code) return &o.label;
  }
  return nullptr;
}

int TableDef::ColumnIndex(std::string_view column) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == column) return static_cast<int>(i);
  }
  return -1;
}

const std::vector<TableDef>& AllTables() {
  static const std::vector<TableDef> tables = BuildTables();
  return tables;
}

const TableDef& SyncTable() {
  using CT = ColumnType;
  static const TableDef t{TableId::kSync,
                          "linkwatch_sync",
                          "",
                          {{"linkwatch_syncid", CT::kString},
                           {"profile", CT::kString},
                           {"entityname", CT::kString},
                           {"error", CT::kString},
                           {"errorreason", CT::kString},
                           {"errortime", CT::kDateTime},
                           {"errorattempts", CT::kInt},
                           {"lastbreakreason", CT::kString},
                           {"lastbreakmessage", CT::kString},
                           {"lastbreaktime", CT::kDateTime},
                           {"lastrepairtime", CT::kDateTime}}};
  return t;
}

const TableDef& Table(TableId id) {
  if (id == TableId::kSync) return SyncTable();
  return AllTables()[static_cast<int>(id)];
}

const TableDef* FindTable(std::string_view name) {
  for (const auto& t : AllTables()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const ChoiceSet& ProfileStateChoices() { return kProfileState; }
const ChoiceSet& EntitySyncStateChoices() { return kSyncState; }
const ChoiceSet& ExternalTableStateChoices() { return kExternalTableState; }
const ChoiceSet& MetadataStateChoices() { return kMetadataState; }
const ChoiceSet& PartitionStrategyChoices() { return kPartitionStrategy; }

}  // namespace linkwatch::state
